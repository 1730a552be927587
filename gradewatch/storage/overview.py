"""Read-only summaries for the web pages: semesters, readiness of their reports, drift history.

Counts only: nothing here returns a student's row, so the pages built on it show no
identifying data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.semesters import Period
from gradewatch.storage.predictions import CHAMPION
from gradewatch.storage.tables import (
    drift_metrics,
    grade_predictions,
    latest_prediction,
    same_semester,
    student_reports,
)


@dataclass(frozen=True)
class SemesterOverview:
    period: Period
    rows: int
    final_grades: int  # rows that carry a final grade
    predicted: int  # rows that carry a prediction
    report_rows: int  # predicted and not yet graded: the rows of GET /get-report
    at_risk: int  # report rows whose latest prediction flags the student at risk
    predicted_at: datetime | None  # time of the latest prediction run

    @property
    def grade_coverage(self) -> float | None:
        return self.final_grades / self.rows if self.rows else None

    @property
    def report_ready(self) -> bool:
        """Same rule as ``storage.reports.report_ready``: a predicted row without a grade."""
        return self.report_rows > 0


def semester_overview(engine: Engine) -> list[SemesterOverview]:
    """Every semester in ``student_reports``, newest first, with its counts."""
    t, p = student_reports, grade_predictions
    # The latest prediction of a row is the one whose time is on the row (as in the report).
    latest = sa.and_(latest_prediction(p, t), p.c.role == CHAMPION)
    in_report = sa.and_(t.c.prediction_final_grade.is_not(None), t.c.final_grade.is_(None))
    # DISTINCT ids: a run that wrote two history rows for one student must not count twice.
    query = (
        sa.select(
            t.c.start_date_period,
            t.c.end_date_period,
            sa.func.count(sa.distinct(t.c.id)),
            sa.func.count(sa.distinct(sa.case((t.c.final_grade.is_not(None), t.c.id)))),
            sa.func.count(sa.distinct(sa.case((t.c.prediction_final_grade.is_not(None), t.c.id)))),
            sa.func.count(sa.distinct(sa.case((in_report, t.c.id)))),
            sa.func.count(sa.distinct(sa.case((sa.and_(in_report, p.c.at_risk.is_(sa.true())), t.c.id)))),
            sa.func.max(t.c.prediction_report_date),
        )
        .select_from(t.outerjoin(p, latest))
        .group_by(t.c.start_date_period, t.c.end_date_period)
        .order_by(t.c.start_date_period.desc(), t.c.end_date_period.desc())
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        SemesterOverview(Period(start, end), int(n), int(graded), int(predicted), int(report),
                         int(risky), at)
        for start, end, n, graded, predicted, report, risky, at in rows
    ]


def drift_history(engine: Engine, semesters: int = 8) -> list[dict[str, Any]]:
    """Drift rows of the ``semesters`` most recent semesters that have any, oldest first."""
    d = drift_metrics
    recent = (
        sa.select(d.c.start_date_period, d.c.end_date_period)
        .group_by(d.c.start_date_period, d.c.end_date_period)
        .order_by(d.c.start_date_period.desc(), d.c.end_date_period.desc())
        .limit(semesters)
        .subquery()
    )
    query = (
        sa.select(d)
        .join(recent, same_semester(d, recent))
        .order_by(d.c.start_date_period, d.c.end_date_period, d.c.feature)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
