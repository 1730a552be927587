"""Per-semester status of ``student_reports``: what the sensors and schedules look at.

One GROUP BY over the (start, end, updated_at) index answers for every semester at once, so a
sensor tick stays cheap with hundreds of semesters and millions of rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.semesters import Period
from gradewatch.storage.tables import student_reports


@dataclass(frozen=True)
class SemesterStatus:
    period: Period
    rows: int
    graded: int
    last_update: datetime | None
    last_ungraded_update: datetime | None
    last_graded_update: datetime | None

    @property
    def grade_coverage(self) -> float:
        return self.graded / self.rows if self.rows else 0.0

    @property
    def is_open(self) -> bool:
        """Some students still wait for their final grade."""
        return self.graded < self.rows

    def features_version(self, champion: str | None) -> str:
        """Changes when ungraded students' data change, or when the champion model changes."""
        return _digest(self.rows, self.last_ungraded_update, champion)

    @property
    def grades_version(self) -> str:
        """Changes whenever a final grade arrives or changes."""
        return _digest(self.graded, self.last_graded_update)


def _digest(*parts: object) -> str:
    text = "|".join("" if p is None else (p.isoformat() if isinstance(p, datetime) else str(p))
                    for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def semester_statuses(engine: Engine) -> list[SemesterStatus]:
    t = student_reports
    graded = t.c.final_grade.is_not(None)
    query = (
        sa.select(
            t.c.start_date_period,
            t.c.end_date_period,
            sa.func.count(),
            sa.func.count(t.c.final_grade),
            sa.func.max(t.c.updated_at),
            sa.func.max(t.c.updated_at).filter(sa.not_(graded)),
            sa.func.max(t.c.updated_at).filter(graded),
        )
        .group_by(t.c.start_date_period, t.c.end_date_period)
        .order_by(t.c.start_date_period, t.c.end_date_period)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        SemesterStatus(Period(start, end), int(n), int(g), _aware(last), _aware(ungraded), _aware(gr))
        for start, end, n, g, last, ungraded, gr in rows
    ]


def semester_status(engine: Engine, period: Period) -> SemesterStatus:
    for status in semester_statuses(engine):
        if status.period == period:
            return status
    return SemesterStatus(period, 0, 0, None, None, None)


def _aware(value: datetime | str | None) -> datetime | None:
    """SQLite returns aggregated timestamps as text; PostgreSQL as aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)
