"""Past predictions: ``GET /history``, a semester's prediction runs and one student's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch import schema
from gradewatch.semesters import Period
from gradewatch.storage.predictions import CHAMPION
from gradewatch.storage.tables import grade_predictions, in_semester, student_reports

HISTORY_COLUMNS = (
    "start_date_period", "end_date_period", "user_id", "model_version", "role", "predicted_grade",
    "interval_lower", "interval_upper", "probability_below_pass", "at_risk", "reasons", "predicted_at",
)


@dataclass(frozen=True)
class HistoryQuery:
    """The filters of ``GET /history``; a query names a semester or a user_id (or both)."""

    period: Period | None = None
    user_id: str | None = None
    since: datetime | None = None  # predicted_at >= since
    until: datetime | None = None  # predicted_at < until
    role: str | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        p = grade_predictions
        found = []
        if self.period is not None:
            found.append(in_semester(p, self.period))
        if self.user_id is not None:
            found.append(p.c.user_id == self.user_id)
        if self.since is not None:
            found.append(p.c.predicted_at >= self.since)
        if self.until is not None:
            found.append(p.c.predicted_at < self.until)
        if self.role is not None:
            found.append(p.c.role == self.role)
        return found


def prediction_history(engine: Engine, query: HistoryQuery, *, limit: int, offset: int = 0
                       ) -> tuple[list[dict[str, Any]], int]:
    """One page of past predictions, newest first, and how many match in all."""
    if query.period is None and query.user_id is None:
        raise ValueError("a history query must name a semester or a user_id")
    p = grade_predictions
    where = query.conditions()
    page = (sa.select(*[p.c[c] for c in HISTORY_COLUMNS]).where(*where)
            .order_by(p.c.predicted_at.desc(), p.c.id.desc()).limit(limit).offset(offset))
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(p).where(*where)).scalar_one()
        rows = [dict(r._mapping) for r in conn.execute(page)]
    return rows, int(total)


def student_timeline(engine: Engine, period: Period, user_id: str) -> list[dict[str, Any]]:
    """The champion's predictions of one student in ``period``, oldest first."""
    rows, _ = prediction_history(engine, HistoryQuery(period, user_id, role=CHAMPION), limit=10_000)
    return rows[::-1]


def semester_runs(engine: Engine, period: Period, runs: int = 24) -> list[dict[str, Any]]:
    """The semester's ``runs`` latest champion prediction runs, oldest first, with their counts."""
    p = grade_predictions
    query = (
        sa.select(p.c.predicted_at, sa.func.count().label("students"),
                  sa.func.count(sa.case((p.c.at_risk.is_(sa.true()), 1))).label("at_risk"))
        .where(in_semester(p, period), p.c.role == CHAMPION)
        .group_by(p.c.predicted_at).order_by(p.c.predicted_at.desc()).limit(runs)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)][::-1]


def uploaded_indicators(engine: Engine, period: Period, user_id: str) -> dict[str, Any] | None:
    """The student's row of ``student_reports`` as uploaded (no cleaning), or None."""
    t = student_reports
    query = sa.select(*[t.c[c] for c in (*schema.FEATURES, schema.FINAL_GRADE, "updated_at")]).where(
        t.c.user_id == user_id, in_semester(t, period))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None
