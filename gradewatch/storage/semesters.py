"""``semester_versions``: one row per semester with its row and graded counts and a version counter.

Every upload transaction that changes a semester bumps the counter (and so does an erasure), so
the sensors and schedules read one small row per semester and never scan the per-student
tables. The transaction takes the semester's row lock *before* it touches ``student_reports``:
concurrent uploads to one semester then recount in commit order, and a later commit always
leaves a larger version (a timestamp taken before waiting for row locks could not promise that).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.semesters import Period
from gradewatch.storage.db import dialect_insert
from gradewatch.storage.tables import in_semester, semester_versions, student_reports


@dataclass(frozen=True)
class SemesterStatus:
    period: Period
    rows: int
    graded: int
    version: int
    last_update: datetime | None

    @property
    def grade_coverage(self) -> float:
        return self.graded / self.rows if self.rows else 0.0

    @property
    def is_open(self) -> bool:
        """Some students still wait for their final grade."""
        return self.graded < self.rows

    def features_version(self, champion: str | None) -> str:
        """Changes whenever an upload changes the semester, or when the champion model changes."""
        return _digest(self.version, champion)

    @property
    def grades_version(self) -> str:
        """Changes whenever an upload changes the semester (final grades included)."""
        return _digest(self.graded, self.version)


def _digest(*parts: object) -> str:
    text = "|".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lock_semester(conn: Connection, period: Period, now: datetime) -> None:
    """Hold ``period``'s version row (created at version 0) until the transaction ends.

    Call it first in a transaction that will change the semester's student rows.
    """
    t = semester_versions
    insert = dialect_insert(conn)(t).values(start_date_period=period.start, end_date_period=period.end,
                                            updated_at=now)
    # A no-op update of an existing row still takes its row lock.
    conn.execute(insert.on_conflict_do_update(index_elements=[t.c.start_date_period, t.c.end_date_period],
                                              set_={"version": t.c.version}))


def record_semester_change(conn: Connection, period: Period, now: datetime) -> None:
    """Recount ``period``'s rows and bump its version, inside the transaction that changed them.

    Both counts come from ONE pass over the semester's rows: one scalar subquery per count read
    them twice, 0.3-0.9 s of a 1M-row upload on PostgreSQL. The caller holds the semester's lock
    (:func:`lock_semester`), so no other writer changes them between the count and the update.
    """
    t, r = semester_versions, student_reports
    rows, graded = conn.execute(sa.select(sa.func.count(), sa.func.count(r.c.final_grade))
                                .where(in_semester(r, period))).one()
    conn.execute(t.update().where(in_semester(t, period)).values(
        row_count=rows, graded_count=graded, version=t.c.version + 1, updated_at=now))


def semester_statuses(engine: Engine) -> list[SemesterStatus]:
    """Every semester that holds rows, oldest first: one row each from ``semester_versions``."""
    t = semester_versions
    query = (sa.select(t.c.start_date_period, t.c.end_date_period, t.c.row_count, t.c.graded_count,
                       t.c.version, t.c.updated_at)
             .where(t.c.row_count > 0)
             .order_by(t.c.start_date_period, t.c.end_date_period))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [SemesterStatus(Period(start, end), int(n), int(g), int(v), updated)
            for start, end, n, g, v, updated in rows]


def semester_status(engine: Engine, period: Period) -> SemesterStatus:
    t = semester_versions
    query = sa.select(t.c.row_count, t.c.graded_count, t.c.version, t.c.updated_at).where(in_semester(t, period))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return SemesterStatus(period, 0, 0, 0, None)
    return SemesterStatus(period, int(row.row_count), int(row.graded_count), int(row.version), row.updated_at)
