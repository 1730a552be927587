"""Erasure: forget a student, or a whole semester, in every table that holds student rows.

The tables are found, not listed: every table of the schema with a ``user_id`` column holds
student rows, so a table added later is erased too. Everything happens in ONE transaction,
together with the recount of each touched semester's ``semester_versions`` row (so the sensors
see the change) and one ``erasures`` audit row that records the scope and the counts, never
the student's id. On PostgreSQL a whole semester leaves its partitions by ``TRUNCATE``
(retention as a whole, nothing left on disk for a vacuum to find); a student's rows are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.semesters import Period
from gradewatch.storage.db import run_in_transaction, utcnow
from gradewatch.storage.partitions import PARTITIONED_TABLES, empty_semester_partition
from gradewatch.storage.semesters import lock_semester, record_semester_change
from gradewatch.storage.tables import erasures, in_semester, metadata

SCOPE_STUDENT, SCOPE_SEMESTER = "student", "semester"


def student_tables() -> list[sa.Table]:
    """Every table keyed by a student's user_id, in dependency order."""
    return [t for t in metadata.sorted_tables if "user_id" in t.c]


@dataclass(frozen=True)
class Erasure:
    scope: str
    semester: str | None
    counts: dict[str, int]  # table -> rows removed

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _rows_of(table: sa.Table, user_id: str | None, period: Period | None) -> sa.ColumnElement[bool]:
    conditions = []
    if user_id is not None:
        conditions.append(table.c.user_id == user_id)
    if period is not None:
        conditions.append(in_semester(table, period))
    return sa.and_(*conditions)


def _semesters_touched(conn: Connection, user_id: str | None, period: Period | None) -> list[Period]:
    if period is not None:
        return [period]
    found = set()
    for table in student_tables():
        query = sa.select(table.c.start_date_period, table.c.end_date_period).where(
            _rows_of(table, user_id, None)).distinct()
        found.update(Period(start, end) for start, end in conn.execute(query))
    return sorted(found)


def _erase_rows(conn: Connection, table: sa.Table, user_id: str | None, period: Period | None) -> int:
    """Erase the rows in scope from ``table``; how many there were.

    A whole semester of a partitioned table (PostgreSQL) leaves as a whole: its partition is
    truncated (see :func:`empty_semester_partition`) instead of deleted row by row.
    """
    if user_id is None and period is not None and table in PARTITIONED_TABLES:
        emptied = empty_semester_partition(conn, table, period)
        if emptied is not None:
            return emptied
    return conn.execute(table.delete().where(_rows_of(table, user_id, period))).rowcount


def erase(engine: Engine, *, user_id: str | None = None, period: Period | None = None) -> Erasure:
    """Remove one student's rows (optionally of one semester), or a whole semester's rows."""
    if user_id is None and period is None:
        raise ValueError("an erasure names a student, a semester, or both")
    scope = SCOPE_STUDENT if user_id is not None else SCOPE_SEMESTER

    def work(conn: Connection) -> Erasure:
        now = utcnow()
        touched = _semesters_touched(conn, user_id, period)
        for semester in touched:  # in key order, like uploads, so erasures and uploads never deadlock
            lock_semester(conn, semester, now)
        counts = {t.name: _erase_rows(conn, t, user_id, period) for t in reversed(student_tables())}
        for semester in touched:
            record_semester_change(conn, semester, now)
        result = Erasure(scope, period.key if period else None, dict(sorted(counts.items())))
        conn.execute(erasures.insert().values(scope=scope, semester=result.semester, counts=result.counts,
                                              created_at=now))
        return result

    return run_in_transaction(engine, work)
