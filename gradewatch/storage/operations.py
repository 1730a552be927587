"""Figures for the people who run GradeWatch: ``GET /metrics`` and ``gradewatch status``.

Counts and times only: nothing here returns a student's row. Every query is one GROUP BY over
a small table (``uploads``, ``model_versions``, ``performance_estimates``, ``alerts``) or
over the indexed semester columns, so a scrape every 15 seconds stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.semesters import Period
from gradewatch.storage.db import as_utc
from gradewatch.storage.semesters import semester_statuses
from gradewatch.storage.tables import (
    grade_predictions,
    model_performance,
    model_versions,
    performance_estimates,
    uploads,
)

ROW_OUTCOMES = ("received", "inserted", "updated", "unchanged", "rejected")


@dataclass(frozen=True)
class UploadTotals:
    source: str  # api, page, inbox
    mode: str  # reports, final_grades
    uploads: int
    rows: dict[str, int]  # by outcome: received, inserted, updated, unchanged, rejected


def upload_totals(engine: Engine) -> list[UploadTotals]:
    """Accepted uploads and their rows by outcome, per source and mode, since the start."""
    u = uploads
    query = (
        sa.select(u.c.source, u.c.mode, sa.func.count(),
                  *(sa.func.coalesce(sa.func.sum(u.c[f"rows_{name}"]), 0) for name in ROW_OUTCOMES))
        .group_by(u.c.source, u.c.mode)
        .order_by(u.c.source, u.c.mode)
    )  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [UploadTotals(r[0], r[1], int(r[2]), {n: int(v) for n, v in zip(ROW_OUTCOMES, r[3:], strict=True)})
            for r in rows]


def latest_prediction_times(engine: Engine, role: str = "champion") -> dict[Period, datetime]:
    """When each semester was last predicted by the model in ``role``."""
    p = grade_predictions
    query = (
        sa.select(p.c.start_date_period, p.c.end_date_period, sa.func.max(p.c.predicted_at))
        .where(p.c.role == role)
        .group_by(p.c.start_date_period, p.c.end_date_period)
    )
    with engine.connect() as conn:
        return {Period(start, end): as_utc(at) for start, end, at in conn.execute(query)}


def open_semester_predictions(engine: Engine) -> dict[Period, datetime | None]:
    """Each open semester (some students still without a final grade) and its latest prediction."""
    latest = latest_prediction_times(engine)
    return {s.period: latest.get(s.period) for s in semester_statuses(engine) if s.is_open}


@dataclass(frozen=True)
class ModelSummary:
    version: str
    status: str  # champion, challenger (the shadow), retired
    algorithm: str
    trained_at: datetime
    promoted_at: datetime | None
    validation_mae: float | None
    last_evaluation: dict[str, Any] | None  # semester, mae, within_tolerance, n_students
    last_estimate: dict[str, Any] | None  # semester, estimated_mae (lower, upper), realised_mae


def model_summaries(engine: Engine, statuses: tuple[str, ...] = ("champion", "challenger")) -> list[ModelSummary]:
    """The champion and the kept challengers, newest first, each with its latest accuracy figures."""
    mv = model_versions
    with engine.connect() as conn:
        versions = conn.execute(
            sa.select(mv.c.version, mv.c.status, mv.c.algorithm, mv.c.trained_at, mv.c.promoted_at, mv.c.metrics)
            .where(mv.c.status.in_(statuses))
            .order_by(mv.c.trained_at.desc(), mv.c.id.desc())
        ).all()
        out = []
        for version, status, algorithm, trained_at, promoted_at, metrics in versions:
            cv_mae = (metrics or {}).get("cv_mae")
            out.append(ModelSummary(
                version, status, algorithm, as_utc(trained_at), as_utc(promoted_at),
                float(cv_mae) if isinstance(cv_mae, int | float) else None,
                _latest(conn, model_performance, version, "evaluated_at",
                        ("mae", "within_tolerance", "n_students")),
                _latest(conn, performance_estimates, version, "estimated_at",
                        ("estimated_mae", "estimated_mae_lower", "estimated_mae_upper", "realised_mae")),
            ))  # fmt: skip
    return out


def performance_estimate(engine: Engine, period: Period, version: str) -> dict[str, Any] | None:
    """The label-free estimate of ``version``'s MAE on ``period``, made before its grades came in."""
    e = performance_estimates
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(e.c.estimated_mae, e.c.estimated_mae_lower, e.c.estimated_mae_upper)
            .where(e.c.start_date_period == period.start, e.c.end_date_period == period.end,
                   e.c.model_version == version)
        ).first()
    return dict(row._mapping) if row is not None else None


def _latest(conn: sa.Connection, table: sa.Table, version: str, time_column: str,
            columns: tuple[str, ...]) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(table.c.start_date_period, table.c.end_date_period, *(table.c[c] for c in columns))
        .where(table.c.model_version == version)
        .order_by(table.c[time_column].desc(), table.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {"semester": Period(row[0], row[1]).key, **{c: row[i + 2] for i, c in enumerate(columns)}}
