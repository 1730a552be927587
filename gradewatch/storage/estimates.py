"""``performance_estimates``: the label-free MAE estimate per semester and model version, and,
once the grades are in, the realised MAE beside it (SPEC section 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.plain import plain
from gradewatch.semesters import Period
from gradewatch.storage.db import run_in_transaction, utcnow
from gradewatch.storage.tables import performance_estimates as pe


def _key(period: Period, model_version: str) -> sa.ColumnElement[bool]:
    return sa.and_(pe.c.start_date_period == period.start, pe.c.end_date_period == period.end,
                   pe.c.model_version == model_version)


def replace_estimate(
    engine: Engine, period: Period, model_version: str, *, method: str, n_students: int,
    estimated_mae: float, lower: float | None, upper: float | None, at: datetime | None = None,
) -> None:
    """Store (or replace, on a re-run) the estimate; a realised MAE already recorded is kept."""
    values = {"method": method, "n_students": n_students, "estimated_mae": plain(estimated_mae),
              "estimated_mae_lower": plain(lower), "estimated_mae_upper": plain(upper),
              "estimated_at": at or utcnow()}

    def work(conn: Connection) -> None:
        updated = conn.execute(pe.update().where(_key(period, model_version)).values(**values)).rowcount
        if not updated:
            conn.execute(pe.insert().values(start_date_period=period.start, end_date_period=period.end,
                                            model_version=model_version, **values))

    run_in_transaction(engine, work)


def record_realised_mae(engine: Engine, period: Period, model_version: str, mae: float,
                        at: datetime | None = None) -> bool:
    """Write the realised MAE beside the estimate; False when there was no estimate."""
    def work(conn: Connection) -> bool:
        result = conn.execute(pe.update().where(_key(period, model_version))
                              .values(realised_mae=plain(mae), realised_at=at or utcnow()))
        return bool(result.rowcount)

    return run_in_transaction(engine, work)


def read_estimates(engine: Engine, period: Period | None = None) -> list[dict[str, Any]]:
    query = sa.select(pe).order_by(pe.c.start_date_period, pe.c.id)
    if period is not None:
        query = query.where(pe.c.start_date_period == period.start, pe.c.end_date_period == period.end)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
