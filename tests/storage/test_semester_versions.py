"""``semester_versions`` is kept by the upload transaction itself, on both backends.

The sensors trust it instead of scanning ``student_reports``, so its counts must equal the
table's and its version must move with every commit that changes the semester, also when two
uploads of one semester overlap (the race of issue 13, item 5).
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from gradewatch.intake.ingest import UploadRejected
from gradewatch.storage.db import utcnow
from gradewatch.storage.partitions import partition_name
from gradewatch.storage.reports import upsert_reports
from gradewatch.storage.semesters import lock_semester, record_semester_change, semester_status
from gradewatch.storage.tables import semester_versions, student_reports
from tests.support.databases import fresh_postgres_engine, until_blocked_or_done
from tests.support.semesters import S1, S2, semester_frame, upload, upload_grades


def true_counts(engine, period) -> tuple[int, int]:
    t = student_reports
    with engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count(), sa.func.count(t.c.final_grade)).where(
            t.c.start_date_period == period.start, t.c.end_date_period == period.end)).one())


def test_each_changing_upload_bumps_the_version_and_recounts(engine) -> None:
    frame = semester_frame(S1, 40)
    upload(engine, S1, frame.head(30), grades=False)
    first = semester_status(engine, S1)
    assert (first.rows, first.graded, first.version) == (30, 0, 1)
    upload(engine, S1, frame.head(30), grades=False)  # the same rows again: nothing changed
    assert semester_status(engine, S1).version == 1
    upload(engine, S1, frame, grades=False)  # ten new students
    upload_grades(engine, S1, frame.head(12))
    status = semester_status(engine, S1)
    assert (status.rows, status.graded, status.version) == (40, 12, 3)
    assert (status.rows, status.graded) == true_counts(engine, S1)
    assert semester_status(engine, S2).version == 0  # untouched semesters have no row


def test_a_failed_upload_leaves_the_version_alone(engine) -> None:
    upload(engine, S1, semester_frame(S1, 20), grades=False)
    with pytest.raises(UploadRejected, match="missing the required"):
        upload(engine, S1, semester_frame(S1, 20).drop(columns=["gender"]), grades=False)
    assert semester_status(engine, S1).version == 1


@pytest.fixture
def postgres_engine(postgres_url):
    """PostgreSQL only: SQLite runs one write transaction at a time (BEGIN IMMEDIATE), so two
    uploads never overlap there."""
    with fresh_postgres_engine(postgres_url) as eng:
        yield eng


def test_overlapping_uploads_count_in_commit_order(postgres_engine) -> None:
    """An upload that starts while another one of the same semester is uncommitted waits for it,
    then recounts: the version row ends with the true counts and one bump per upload."""
    engine = postgres_engine
    frame = semester_frame(S1, 60)
    upload(engine, S1, frame.head(10), grades=False)  # the semester exists, at version 1
    early, late = frame.iloc[10:35], frame.iloc[35:]
    done = threading.Event()
    with engine.begin() as conn:  # an upload in flight: locked, rows written, not committed
        lock_semester(conn, S1, utcnow())
        upsert_reports(conn, S1, early.drop(columns=["final_grade"]), utcnow())
        second = threading.Thread(target=lambda: (upload(engine, S1, late, grades=True), done.set()))
        second.start()
        until_blocked_or_done(engine, done)
        record_semester_change(conn, S1, utcnow())
    second.join()
    with engine.connect() as conn:
        row = conn.execute(sa.select(semester_versions)).one()
    assert (row.row_count, row.graded_count) == true_counts(engine, S1) == (60, 25)
    assert row.version == 3


def test_the_recount_reads_the_semesters_rows_once(postgres_engine) -> None:
    """Both counts in one pass over the semester's partition: PostgreSQL's per-transaction scan
    counters of the partition move by one (two scalar subqueries read it twice, 0.3-0.9 s of a
    1M-row upload)."""
    engine = postgres_engine
    upload(engine, S1, semester_frame(S1, 30), grades=True)
    partition = partition_name(student_reports, S1)
    scans = sa.text("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
                    "WHERE relname = :name")
    with engine.begin() as conn:
        lock_semester(conn, S1, utcnow())
        before = conn.execute(scans, {"name": partition}).scalar_one()
        record_semester_change(conn, S1, utcnow())
        after = conn.execute(scans, {"name": partition}).scalar_one()
    assert after - before == 1
    status = semester_status(engine, S1)
    assert (status.rows, status.graded) == true_counts(engine, S1) == (30, 30)
