"""Per-semester partitions of the per-student tables (PostgreSQL), migration 0003, retention.

SQLite keeps single tables: the same calls work there and the migration is a no-op.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from gradewatch.semesters import Period
from gradewatch.storage import make_engine
from gradewatch.storage.db import run_in_transaction
from gradewatch.storage.erasure import erase
from gradewatch.storage.migrate import upgrade
from gradewatch.storage.partitions import (
    drop_semester,
    empty_semester_partition,
    ensure_semester_partitions,
    partition_name,
)
from gradewatch.storage.reports import MergeCounts, upsert_reports
from gradewatch.storage.semesters import lock_semester, record_semester_change, semester_status, semester_statuses
from gradewatch.storage.tables import cleaned_features, grade_predictions, student_reports
from tests.support.databases import until_blocked_or_done, writer_inside_its_transaction

SPRING = Period(date(2026, 1, 12), date(2026, 6, 30))
AUTUMN = Period(date(2026, 9, 1), date(2026, 12, 18))
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def reports(n: int, prefix: str = "s") -> pd.DataFrame:
    return pd.DataFrame({
        "row": range(2, n + 2), "user_id": [f"{prefix}{i:03d}" for i in range(n)],
        "gender": ["female", "male"] * (n // 2) + ["other"] * (n % 2),
        "attendance_rate": [80.0 + i % 7 for i in range(n)], "study_hours_per_week": [5.0] * n,
        "previous_grade": [70.0] * n, "extracurricular_activities_count": pd.array([1] * n, dtype="Int64"),
        "parental_support": ["low"] * n,
    })


def merge(engine, period: Period, frame: pd.DataFrame) -> MergeCounts:
    return run_in_transaction(engine, lambda conn: upsert_reports(conn, period, frame, NOW))


def table_rows(engine, table: sa.Table) -> list[tuple]:
    columns = [c for c in table.columns if c.name != "id"]
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(*columns)))


def partitions_of(engine, table: sa.Table) -> set[str]:
    with engine.connect() as conn:
        return set(conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %(name)s", {"name": table.name}).scalars())


def _store_at_0002(engine) -> None:
    """Rows of two semesters in every per-student table, written as 0002's plain tables take them."""
    with engine.begin() as conn:
        for period, prefix in ((SPRING, "s"), (AUTUMN, "a")):
            for i in range(5):
                key = {"user_id": f"{prefix}{i}", "start_date_period": period.start,
                       "end_date_period": period.end}
                conn.execute(student_reports.insert().values(
                    **key, attendance_rate=90.0 - i, final_grade=60.0 + i, created_at=NOW, updated_at=NOW))
                conn.execute(cleaned_features.insert().values(
                    **key, attendance_rate=90.0 - i, excluded=False, quality_flags="", cleaned_at=NOW))
                conn.execute(grade_predictions.insert().values(
                    **key, model_version="v1", predicted_grade=61.0, interval_lower=50.0,
                    interval_upper=70.0, probability_below_pass=0.4, at_risk=True, predicted_at=NOW))


def test_migration_0003_converts_a_database_holding_data(unmigrated_url: str) -> None:
    upgrade(unmigrated_url, "0002")
    engine = make_engine(unmigrated_url)
    try:
        _store_at_0002(engine)
        tables = (student_reports, cleaned_features, grade_predictions)
        before = {t.name: table_rows(engine, t) for t in tables}
        upgrade(unmigrated_url, "0003")
        assert {t.name: table_rows(engine, t) for t in tables} == before
        if engine.dialect.name == "postgresql":
            for table in tables:
                assert partitions_of(engine, table) == {partition_name(table, SPRING), partition_name(table, AUTUMN)}
        # The converted tables take new semesters and merges as before.
        winter = Period(date(2027, 1, 11), date(2027, 6, 30))
        assert merge(engine, winter, reports(4)) == MergeCounts(4, 0, 0)
        assert merge(engine, SPRING, reports(6)) == MergeCounts(6, 0, 0)  # s000.. are new ids
        from alembic import command

        from gradewatch.storage.migrate import alembic_config

        command.downgrade(alembic_config(unmigrated_url), "0002")
        assert len(table_rows(engine, student_reports)) == len(before["student_reports"]) + 10
    finally:
        engine.dispose()


@POSTGRES_ONLY
def test_a_query_on_one_semester_touches_one_partition(engine) -> None:
    merge(engine, SPRING, reports(10))
    merge(engine, AUTUMN, reports(10))
    query = sa.select(sa.func.count()).select_from(student_reports).where(
        student_reports.c.start_date_period == SPRING.start, student_reports.c.end_date_period == SPRING.end)
    with engine.connect() as conn:
        plan = "\n".join(conn.execute(sa.text("EXPLAIN " + str(query.compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True})))).scalars())
    assert partition_name(student_reports, SPRING) in plan
    assert partition_name(student_reports, AUTUMN) not in plan


@POSTGRES_ONLY
def test_a_new_semester_is_loaded_bare_then_attached_with_its_indexes(engine) -> None:
    assert merge(engine, SPRING, reports(10)) == MergeCounts(10, 0, 0)
    name = partition_name(student_reports, SPRING)
    assert partitions_of(engine, student_reports) >= {name}
    with engine.connect() as conn:
        indexes = conn.exec_driver_sql("SELECT count(*) FROM pg_indexes WHERE tablename = %(n)s",
                                       {"n": name}).scalar_one()
    assert indexes == 1  # the unique key, built by ATTACH (no semester index: 0006, no id index: 0007)
    assert merge(engine, SPRING, reports(12)) == MergeCounts(2, 0, 10)


def test_retention_drops_a_semester_as_a_whole(engine) -> None:
    merge(engine, SPRING, reports(10))
    merge(engine, AUTUMN, reports(7, prefix="a"))
    assert drop_semester(engine, SPRING) == {"student_reports": 10, "cleaned_features": 0, "grade_predictions": 0}
    assert {r[0] for r in table_rows(engine, student_reports)} == {f"a{i:03d}" for i in range(7)}
    if engine.dialect.name == "postgresql":
        assert partition_name(student_reports, SPRING) not in partitions_of(engine, student_reports)
    assert merge(engine, SPRING, reports(3)) == MergeCounts(3, 0, 0)  # the semester can come back


def test_retention_leaves_the_semesters_version_row_true(engine) -> None:
    """The sensors read ``semester_versions``, never the per-student tables: a dropped semester
    must read as empty there (a stale count would keep asking for runs of a semester with no
    rows) and its version must move, as for any change."""
    frame = reports(10).assign(final_grade=[55.0] * 4 + [None] * 6)

    def upload(conn) -> None:
        lock_semester(conn, SPRING, NOW)
        upsert_reports(conn, SPRING, frame, NOW)
        record_semester_change(conn, SPRING, NOW)

    run_in_transaction(engine, upload)
    before = semester_status(engine, SPRING)
    assert (before.rows, before.graded) == (10, 4)
    drop_semester(engine, SPRING)
    after = semester_status(engine, SPRING)
    assert (after.rows, after.graded) == (0, 0)
    assert after.version == before.version + 1
    assert SPRING not in [s.period for s in semester_statuses(engine)]


def relation_bytes(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_relation_size(%(n)s)", {"n": name}).scalar_one()


@POSTGRES_ONLY
def test_erasing_a_semester_empties_its_partitions_as_a_whole(engine) -> None:
    """``gradewatch erase --semester`` on PostgreSQL: each partition of the semester is truncated,
    so no page of it is left on disk with the erased rows (a DELETE leaves them all there, dead,
    until a vacuum), and the other semester keeps every row."""
    merge(engine, SPRING, reports(200))
    merge(engine, AUTUMN, reports(50, prefix="a"))
    spring = partition_name(student_reports, SPRING)
    assert relation_bytes(engine, spring) > 0
    result = erase(engine, period=SPRING)
    assert result.counts == {"cleaned_features": 0, "grade_predictions": 0, "student_reports": 200}
    assert relation_bytes(engine, spring) == 0
    assert [r[0] for r in table_rows(engine, student_reports)] == [f"a{i:03d}" for i in range(50)]
    assert merge(engine, SPRING, reports(3)) == MergeCounts(3, 0, 0)  # the semester can come back


@POSTGRES_ONLY
def test_emptying_a_semester_leaves_the_other_semesters_readable_meanwhile(engine) -> None:
    """The TRUNCATE locks the semester's own partition, not the table: until the erasure commits,
    a reader of another semester is served, a reader of the erased one waits."""
    merge(engine, SPRING, reports(20))
    merge(engine, AUTUMN, reports(20, prefix="a"))

    def count(conn, period: Period) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(student_reports).where(
            student_reports.c.start_date_period == period.start,
            student_reports.c.end_date_period == period.end)).scalar_one()

    with engine.begin() as erasing:
        assert empty_semester_partition(erasing, student_reports, SPRING) == 20
        with engine.connect() as reader:
            reader.exec_driver_sql("SET lock_timeout = '1s'")
            assert count(reader, AUTUMN) == 20
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                count(reader, SPRING)


@POSTGRES_ONLY
@pytest.mark.parametrize("remove", [lambda engine: erase(engine, period=SPRING).counts,
                                    lambda engine: drop_semester(engine, SPRING)], ids=["erase", "retention"])
def test_removing_a_semester_counts_the_rows_a_writer_commits_while_it_waits(engine, remove) -> None:
    """A semester run writes its partitions without the semester's lock. Rows it commits while
    an erasure (or retention) waits for the partition are removed too, so they must be counted:
    the answer and the audit row say how many rows left, and a count taken before the wait
    would leave them out."""
    for period in (SPRING, AUTUMN):
        run_in_transaction(engine, lambda conn, period=period: ensure_semester_partitions(conn, period))
    _store_at_0002(engine)  # five rows of each semester in every per-student table
    row = {"user_id": "s9", "start_date_period": SPRING.start, "end_date_period": SPRING.end,
           "model_version": "v1", "predicted_grade": 61.0, "interval_lower": 50.0, "interval_upper": 70.0,
           "probability_below_pass": 0.4, "at_risk": True, "predicted_at": NOW}
    done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        with writer_inside_its_transaction(engine, lambda conn: conn.execute(grade_predictions.insert(), row)) \
                as writer:
            removing = pool.submit(lambda: (remove(engine), done.set())[0])
            until_blocked_or_done(engine, done)
            assert not done.is_set(), "the removal must wait for the writer of its partition"
        writer.result(timeout=60)  # committed
    assert dict(removing.result(timeout=60)) == {"cleaned_features": 5, "grade_predictions": 6,
                                                  "student_reports": 5}
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(grade_predictions).where(
            grade_predictions.c.start_date_period == SPRING.start)).scalar_one() == 0
