"""The bulk merge of ``student_reports`` on both backends, including PostgreSQL's fast paths.

On PostgreSQL the rows travel as array parameters, and the first upload of a semester is a
binary COPY in a savepoint that falls back to the MERGE when rows of the same students
appeared meanwhile. Every path must store exactly what the other paths store.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from gradewatch.semesters import Period
from gradewatch.storage import make_engine, reports
from gradewatch.storage.db import StorageBusy, run_in_transaction
from gradewatch.storage.erasure import erase
from gradewatch.storage.partitions import drop_semester, partition_name
from gradewatch.storage.reports import MergeCounts, update_final_grades, upsert_reports
from gradewatch.storage.tables import student_reports
from tests.support.databases import until_blocked_or_done, writer_inside_its_transaction

PERIOD = Period(date(2026, 1, 12), date(2026, 6, 30))
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VALUE_COLUMNS = ("gender", "attendance_rate", "study_hours_per_week", "previous_grade",
                 "extracurricular_activities_count", "parental_support", "final_grade")


def awkward_frame() -> pd.DataFrame:
    """Values that a CSV round trip or an array parameter could get wrong."""
    return pd.DataFrame({
        "row": np.arange(2, 8, dtype=np.int64),
        "user_id": ["b", "a", "é-1", "x y", "0042", "z\u00a0z"],
        "gender": ["female", None, "male", "other", "femal", None],
        "attendance_rate": [90.5, np.nan, 0.1 + 0.2, 1e-300, 100.0, -0.0],
        "study_hours_per_week": [5.0, 6.0, np.nan, 7.25, 1 / 3, 0.0],
        "previous_grade": [70.0, 71.0, 72.0, np.nan, 73.0, 74.0],
        "extracurricular_activities_count": pd.array([1, None, 3, 0, 50, None], dtype="Int64"),
        "parental_support": ["low", "high", None, "medium", "low", "strong support"],
    })


def stored(engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(student_reports).order_by(student_reports.c.user_id)).mappings().all()
    return {r["user_id"]: {c: r[c] for c in VALUE_COLUMNS} for r in rows}


def merge(engine, frame: pd.DataFrame) -> MergeCounts:
    return run_in_transaction(engine, lambda conn: upsert_reports(conn, PERIOD, frame, NOW))


def same_values(left: dict, right: dict) -> bool:
    def norm(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
    return {k: {c: norm(v) for c, v in r.items()} for k, r in left.items()} == \
           {k: {c: norm(v) for c, v in r.items()} for k, r in right.items()}


def test_values_are_stored_exactly(engine) -> None:
    frame = awkward_frame()
    assert merge(engine, frame) == MergeCounts(6, 0, 0)
    rows = stored(engine)
    expected = frame.set_index("user_id")
    for user_id, values in rows.items():
        for column in VALUE_COLUMNS:
            want = expected.loc[user_id, column] if column in expected.columns else None
            got = values[column]
            if want is None or want is pd.NA or (isinstance(want, float) and math.isnan(want)):
                assert got is None, (user_id, column)
            elif isinstance(want, float):
                assert got == want, (user_id, column)  # bit-exact: no text round trip
            else:
                assert got == want, (user_id, column)
    assert merge(engine, frame) == MergeCounts(0, 0, 6)  # idempotent


def test_ids_that_cannot_travel_as_one_delimited_string(engine) -> None:
    """An empty id or one with the separator goes as a text array, with the same result."""
    frame = awkward_frame().head(3).assign(user_id=["a\x1fb", "", "c"])
    assert merge(engine, frame).inserted == 3
    assert set(stored(engine)) == {"a\x1fb", "", "c"}


def test_updates_count_and_keep_grades(engine) -> None:
    frame = awkward_frame().assign(final_grade=[50.0, None, 60.0, None, None, 70.0])
    merge(engine, frame)
    changed = awkward_frame()  # no final_grade column: stored grades stay
    changed.loc[0, "attendance_rate"] = 10.0
    assert merge(engine, changed) == MergeCounts(0, 1, 5)
    rows = stored(engine)
    assert rows["b"]["attendance_rate"] == 10.0
    assert rows["b"]["final_grade"] == 50.0 and rows["z\u00a0z"]["final_grade"] == 70.0


def test_final_grades_of_known_and_unknown_students(engine) -> None:
    merge(engine, awkward_frame())
    grades = pd.DataFrame({"row": [2, 3, 4], "user_id": ["a", "nobody", "b"], "final_grade": [55.5, 60.0, None]})
    counts, unknown = run_in_transaction(engine, lambda conn: update_final_grades(conn, PERIOD, grades, NOW))
    assert unknown == [3]
    assert counts == MergeCounts(0, 1, 1)
    assert stored(engine)["a"]["final_grade"] == 55.5


POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # its COPY fast path


@POSTGRES_ONLY
@pytest.mark.parametrize("existing", [0, 3])
def test_new_semester_insert_falls_back_when_rows_appeared_meanwhile(engine, monkeypatch, existing) -> None:
    """The COPY meets rows committed after its check: it is undone, and the MERGE merges."""
    frame = awkward_frame()
    reference_counts = merge(engine, frame.head(existing)) if existing else None
    changed = frame.assign(previous_grade=frame["previous_grade"] + 1)
    calls: list[int | None] = []
    original = reports._copy_into_new_semester
    monkeypatch.setattr(reports, "_semester_has_rows", lambda conn, period: False)  # a stale check
    monkeypatch.setattr(reports, "_copy_into_new_semester",
                        lambda *args: calls.append(result := original(*args)) or result)
    counts = merge(engine, changed)
    assert calls == [None if existing else len(frame)]
    assert counts == MergeCounts(len(frame) - existing, existing, 0), reference_counts
    rows = stored(engine)
    assert len(rows) == len(frame)
    assert all(rows[u]["previous_grade"] == v for u, v in zip(changed["user_id"], changed["previous_grade"],
                                                                strict=True) if not math.isnan(v))


def test_fast_path_and_merge_store_the_same(engine, monkeypatch, database_url) -> None:
    frame = awkward_frame()
    merge(engine, frame)
    fast = stored(engine)
    with engine.begin() as conn:
        conn.execute(student_reports.delete())
    monkeypatch.setattr(reports, "_semester_has_rows", lambda conn, period: True)  # always the merge
    assert merge(engine, frame) == MergeCounts(6, 0, 0)
    assert same_values(stored(engine), fast)


@POSTGRES_ONLY
def test_concurrent_first_uploads_of_a_semester(engine) -> None:
    """Two first uploads race: the second COPY waits for the first, is refused, and merges."""
    frame = awkward_frame()
    changed = frame.assign(previous_grade=frame["previous_grade"] + 1)
    with engine.connect() as first:
        transaction = first.begin()
        assert upsert_reports(first, PERIOD, frame.head(3), NOW) == MergeCounts(3, 0, 0)  # not committed
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(merge, engine, changed)
            time.sleep(0.5)
            assert not second.done()  # the COPY waits on the first upload's rows
            transaction.commit()
            assert second.result(timeout=30) == MergeCounts(3, 3, 0)
    rows = stored(engine)
    assert len(rows) == len(frame)
    assert all(rows[u]["previous_grade"] == v for u, v in zip(changed["user_id"], changed["previous_grade"],
                                                                strict=True) if not math.isnan(v))


def test_reupload_counts_inserted_updated_unchanged(engine) -> None:
    frame = awkward_frame()
    merge(engine, frame.head(4))
    again = frame.copy()
    again.loc[0, "attendance_rate"] = 11.0  # b changes; a, é-1, x y stay; 0042 and z z are new
    assert merge(engine, again) == MergeCounts(2, 1, 3)
    assert stored(engine)["b"]["attendance_rate"] == 11.0


def test_empty_cells_keep_the_stored_values_and_are_counted(engine) -> None:
    full = pd.DataFrame({"row": [2], "user_id": ["S9"], "gender": ["female"], "attendance_rate": [90.0],
                         "study_hours_per_week": [10.0], "previous_grade": [80.0],
                         "extracurricular_activities_count": pd.array([1], dtype="Int64"),
                         "parental_support": ["high"], "final_grade": [70.0]})
    merge(engine, full)
    before = stored(engine)
    empty = full.assign(**{c: None for c in VALUE_COLUMNS})
    assert merge(engine, empty) == MergeCounts(0, 0, 1, cells_kept=len(VALUE_COLUMNS))
    assert stored(engine) == before
    # A file that does not carry a column keeps it too, without calling it an empty cell.
    partial = empty.drop(columns=["final_grade"]).assign(previous_grade=81.0)
    assert merge(engine, partial) == MergeCounts(0, 1, 0, cells_kept=len(VALUE_COLUMNS) - 2)
    assert stored(engine)["S9"] == {**before["S9"], "previous_grade": 81.0}


def test_last_writer_wins_by_commit_order(engine) -> None:
    """A second upload waits for the first one's transaction and its values are the ones kept."""
    frame = awkward_frame()
    merge(engine, frame)
    first = frame.assign(previous_grade=1.0)
    second = frame.assign(previous_grade=2.0)
    with engine.connect() as holder:
        transaction = holder.begin()
        upsert_reports(holder, PERIOD, first, NOW)
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(merge, engine, second)
            time.sleep(0.5)
            assert not later.done()  # queued behind the first upload
            transaction.commit()
            assert later.result(timeout=60) == MergeCounts(0, len(frame), 0)
    assert {v["previous_grade"] for v in stored(engine).values()} == {2.0}


def test_final_grades_of_a_student_erased_meanwhile_count_as_unknown(engine) -> None:
    """Counts and update see the same semester: a row deleted while the update waited for it
    is reported unknown, not counted unchanged."""
    merge(engine, awkward_frame())
    grades = pd.DataFrame({"row": [2, 3], "user_id": ["a", "b"], "final_grade": [55.0, 65.0]})
    with engine.connect() as eraser:
        transaction = eraser.begin()
        eraser.execute(student_reports.delete().where(student_reports.c.user_id == "a"))
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(run_in_transaction, engine,
                                lambda conn: update_final_grades(conn, PERIOD, grades, NOW))
            time.sleep(0.5)
            transaction.commit()
            counts, unknown = later.result(timeout=60)
    assert (counts, unknown) == (MergeCounts(0, 1, 0), [2])


def test_waiting_longer_than_the_limit_is_refused_and_stores_nothing(engine) -> None:
    frame = awkward_frame()
    merge(engine, frame)
    before = stored(engine)
    with engine.connect() as holder:
        holder.begin()
        holder.execute(student_reports.update().where(student_reports.c.user_id == "a")
                       .values(previous_grade=0.0))  # holds the row (PostgreSQL) or the database (SQLite)
        with pytest.raises(StorageBusy, match="send it again"):
            run_in_transaction(engine, lambda conn: upsert_reports(
                conn, PERIOD, frame.assign(previous_grade=99.0), NOW), wait_seconds=1)
        holder.rollback()
    assert stored(engine) == before


def test_writers_of_one_process_queue_in_turn_and_give_up_at_the_limit(engine) -> None:
    """Two bounded waits from two threads (the web app's): the second queues behind the first
    (in this process's queue of writers on SQLite, at the row lock on PostgreSQL), is refused
    with StorageBusy when the first outlasts its limit, stores nothing, and the next one in line
    stores once the first has committed."""
    frame = awkward_frame()
    merge(engine, frame)
    with (ThreadPoolExecutor(1) as pool, writer_inside_its_transaction(
            engine, lambda conn: upsert_reports(conn, PERIOD, frame.assign(previous_grade=1.0), NOW)) as first):
        sent: list[str] = []

        def on_statement(_conn, _cursor, statement, *_args) -> None:
            sent.append(statement)

        sa.event.listen(engine, "before_cursor_execute", on_statement)
        with pytest.raises(StorageBusy, match="send it again"):
            run_in_transaction(engine, lambda conn: upsert_reports(
                conn, PERIOD, frame.assign(previous_grade=99.0), NOW), wait_seconds=0.5)
        sa.event.remove(engine, "before_cursor_execute", on_statement)
        if engine.dialect.name == "sqlite":
            # It waited in the queue, never polling SQLite's lock (whose busy handler sleeps up
            # to 100 ms between tries, and so hands over late): not even its BEGIN was sent.
            assert sent == []
        later = pool.submit(run_in_transaction, engine, lambda conn: upsert_reports(
            conn, PERIOD, frame.assign(previous_grade=2.0), NOW), wait_seconds=60)
        time.sleep(0.3)
        assert not later.done()
    # The first writer has committed (the block's end released it); the one in line follows.
    assert first.result(timeout=60) == MergeCounts(0, len(frame), 0)
    assert later.result(timeout=60) == MergeCounts(0, len(frame), 0)
    assert {v["previous_grade"] for v in stored(engine).values()} == {2.0}


def test_a_row_written_meanwhile_is_compared_again_before_it_is_updated(engine) -> None:
    """Another writer that does not take the semester's lock (a prediction run) changes rows
    while the upload waits for them: the upload compares its values with each row as it is
    once it has it. A row that already holds the upload's values is counted unchanged, and
    what the other writer set in the other columns survives."""
    frame = awkward_frame()
    merge(engine, frame)
    upload = frame.assign(previous_grade=50.0)
    done = threading.Event()
    with engine.connect() as writer:
        transaction = writer.begin()
        for user_id, previous_grade, prediction in (("b", 50.0, 61.0), ("a", 1.0, 62.0)):
            writer.execute(student_reports.update().where(student_reports.c.user_id == user_id)
                           .values(previous_grade=previous_grade, prediction_final_grade=prediction))
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(lambda: (merge(engine, upload), done.set())[0])
            if engine.dialect.name == "postgresql":
                until_blocked_or_done(engine, done)  # the upload waits for a and b
            else:
                time.sleep(0.3)  # SQLite: for the database
            assert not done.is_set()
            transaction.commit()
            counts = later.result(timeout=60)
    # Every stored previous_grade differed from 50 (one was empty), except b's once the writer committed.
    assert counts == MergeCounts(0, len(frame) - 1, 1)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(student_reports.c.user_id, student_reports.c.prediction_final_grade)
                                 .where(student_reports.c.user_id.in_(["a", "b"]))).all())
    assert rows == {"a": 62.0, "b": 61.0}
    assert {v["previous_grade"] for v in stored(engine).values()} == {50.0}


@POSTGRES_ONLY
def test_counts_are_exact_without_the_servers_row_counters(database_url) -> None:
    """With ``track_counts`` off PostgreSQL keeps no per-transaction row counters, which the
    MERGE's counts read: they come from counting the semester's rows instead."""
    engine = make_engine(database_url)

    @sa.event.listens_for(engine, "connect")
    def counters_off(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET track_counts = off")
        dbapi_connection.commit()

    try:
        frame = awkward_frame()
        assert merge(engine, frame.head(4)) == MergeCounts(4, 0, 0)
        again = frame.copy()
        again.loc[0, "attendance_rate"] = 11.0  # b changes; a, é-1, x y stay; 0042 and z z are new
        assert merge(engine, again) == MergeCounts(2, 1, 3)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW track_counts").scalar_one() == "off"
    finally:
        engine.dispose()


@POSTGRES_ONLY
@pytest.mark.parametrize("after_an_erasure", [False, True], ids=["new partition", "erased partition"])
def test_a_first_upload_leaves_the_semesters_pages_all_visible(engine, after_an_erasure: bool) -> None:
    """The first upload's COPY writes its rows frozen: the partition's pages are all-visible at
    once, so the next statement that reads them (a re-upload, the semester run) does not rewrite
    each page to set its rows' hint bits. So does the first upload into a partition that an
    erasure emptied and left in place (``gradewatch erase --semester``, then the file again)."""
    period = Period(date(2031, 1, 13), date(2031, 6, 29))
    drop_semester(engine, period)  # its partition may remain from an earlier test of the session
    students = 3000
    frame = pd.DataFrame({"row": np.arange(2, students + 2), "user_id": [f"s{i:05d}" for i in range(students)],
                          "gender": "female", "attendance_rate": 90.0, "study_hours_per_week": 5.0,
                          "previous_grade": 70.0, "parental_support": "low",
                          "extracurricular_activities_count": pd.array([1] * students, dtype="Int64")})
    if after_an_erasure:
        run_in_transaction(engine, lambda conn: upsert_reports(conn, period, frame, NOW))
        erase(engine, period=period)
    counts = run_in_transaction(engine, lambda conn: upsert_reports(conn, period, frame, NOW))
    assert counts == MergeCounts(students, 0, 0)
    with engine.connect() as conn:  # the upload analysed the partition: its page counts are fresh
        pages, visible = conn.exec_driver_sql(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = %(name)s",
            {"name": partition_name(student_reports, period)}).one()
    assert pages > 10 and visible == pages, (pages, visible)
