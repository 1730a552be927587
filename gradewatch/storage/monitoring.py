"""``drift_metrics`` and ``model_performance``: what the monitoring assets write per semester.

Each write replaces what an earlier run wrote for the same semester (drift) or the same
semester and model version (performance: the champion and a challenger can both be scored on
one semester), in ONE transaction, so a re-run never leaves a mix of two runs.
(``grade_predictions`` is written by storage/predictions.py.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.plain import plain
from gradewatch.semesters import Period
from gradewatch.storage.db import run_in_transaction, utcnow
from gradewatch.storage.tables import drift_metrics, in_semester, model_performance


def replace_drift_metrics(
    engine: Engine,
    period: Period,
    features: Sequence[Mapping[str, Any]],
    reference_version: str | None,
    computed_at: datetime | None = None,
) -> int:
    """Store a semester's drift report (one row per feature: ``feature``, ``method``,
    ``statistic``, ``p_value``, ``psi``, ``threshold``, ``drifted``); returns the number of rows."""
    at = computed_at or utcnow()
    rows = [
        {
            "start_date_period": period.start,
            "end_date_period": period.end,
            "reference_version": reference_version,
            "feature": f["feature"],
            "method": f["method"],
            **{name: plain(f[name]) for name in ("statistic", "p_value", "psi", "threshold")},
            "drifted": bool(f["drifted"]),
            "computed_at": at,
        }
        for f in features
    ]

    def work(conn: Connection) -> int:
        conn.execute(drift_metrics.delete().where(in_semester(drift_metrics, period)))
        if rows:
            conn.execute(drift_metrics.insert(), rows)
        return len(rows)

    return run_in_transaction(engine, work)


def read_drift_metrics(engine: Engine, period: Period) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(
            sa.select(drift_metrics)
            .where(in_semester(drift_metrics, period))
            .order_by(drift_metrics.c.id)
        )
        return [dict(r._mapping) for r in result]


def replace_performance(
    engine: Engine,
    period: Period,
    model_version: str,
    record: Mapping[str, Any],
    within_tolerance: bool | None,
    evaluated_at: datetime | None = None,
    *,
    role: str = "champion",
) -> None:
    """Store the accuracy of ``model_version`` on ``period`` (``record``: a column of
    ``model_performance`` per key; ``role``: champion or shadow), replacing an earlier evaluation."""
    row = {
        "start_date_period": period.start,
        "end_date_period": period.end,
        "model_version": model_version,
        **{name: plain(value) for name, value in record.items()},
        "within_tolerance": within_tolerance,
        "role": role,
        "evaluated_at": evaluated_at or utcnow(),
    }

    def work(conn: Connection) -> None:
        conn.execute(
            model_performance.delete().where(
                in_semester(model_performance, period),
                model_performance.c.model_version == model_version,
            )
        )
        conn.execute(model_performance.insert().values(**row))

    run_in_transaction(engine, work)


def read_performance(engine: Engine, period: Period | None = None) -> list[dict[str, Any]]:
    query = sa.select(model_performance).order_by(
        model_performance.c.start_date_period, model_performance.c.id
    )
    if period is not None:
        query = query.where(in_semester(model_performance, period))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
