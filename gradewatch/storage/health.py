"""Database reachability and schema state, for ``GET /health``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from gradewatch.storage.tables import model_versions


def database_status(engine: Engine) -> dict[str, dict[str, object]]:
    try:
        with engine.connect() as conn:
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            champion = conn.execute(
                sa.select(model_versions.c.version, model_versions.c.trained_at).where(
                    model_versions.c.status == "champion"
                )
            ).first()
    except SQLAlchemyError as exc:
        return {
            "database": {"ok": False, "backend": engine.dialect.name,
                         "message": f"database unreachable or not migrated: {type(exc).__name__}"},
            "model": {"ready": False},
        }
    model: dict[str, object] = {"ready": champion is not None}
    if champion is not None:
        model.update(version=champion.version, trained_at=champion.trained_at.isoformat())
    return {"database": {"ok": True, "backend": engine.dialect.name, "revision": revision}, "model": model}
