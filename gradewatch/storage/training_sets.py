"""``training_sets``: what the training_set asset selected, so a retraining decision can name it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.storage.db import run_in_transaction, utcnow
from gradewatch.storage.tables import training_sets


def record_training_set(engine: Engine, semesters: Sequence[str], row_count: int, content_sha256: str) -> bool:
    """Store a selection unless the latest one has the same content; True when it was new."""

    def work(conn: Connection) -> bool:
        latest = conn.execute(
            sa.select(training_sets.c.content_sha256).order_by(training_sets.c.id.desc()).limit(1)
        ).scalar()
        if latest == content_sha256:
            return False
        conn.execute(training_sets.insert().values(semesters=list(semesters), row_count=row_count,
                                                   content_sha256=content_sha256, selected_at=utcnow()))
        return True

    return run_in_transaction(engine, work)


def latest_training_set(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(training_sets).order_by(training_sets.c.id.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)
