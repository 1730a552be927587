"""The ``alerts`` table: every alert raised, and the cross-process de-duplication of alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.storage.db import is_postgres, run_in_transaction, utcnow
from gradewatch.storage.tables import alerts


@dataclass(frozen=True)
class StoredAlert:
    id: int
    kind: str
    severity: str
    semester: str | None
    message: str
    context: dict[str, Any]
    fingerprint: str
    delivered: bool
    created_at: datetime


def _lock_fingerprint(conn: Connection, fingerprint: str) -> None:
    # Two processes raising the same alert at once must not both see "no recent duplicate".
    # SQLite already serialises writers (BEGIN IMMEDIATE in db.py); PostgreSQL needs a lock,
    # and an advisory lock keyed on the fingerprint serialises only identical alerts.
    if is_postgres(conn):
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(int(fingerprint[:15], 16))))


def record_alert(
    engine: Engine,
    *,
    kind: str,
    severity: str,
    semester: str | None,
    message: str,
    context: dict[str, Any],
    fingerprint: str,
    window: timedelta,
) -> int | None:
    """Store an alert unless one with the same fingerprint was stored within ``window``.

    Returns the new row's id, or ``None`` when the alert is a duplicate and was not stored.
    """

    def work(conn: Connection) -> int | None:
        _lock_fingerprint(conn, fingerprint)
        now = utcnow()
        if window > timedelta(0):
            recent = conn.execute(
                sa.select(alerts.c.id)
                .where(alerts.c.fingerprint == fingerprint, alerts.c.created_at > now - window)
                .limit(1)
            ).first()
            if recent is not None:
                return None
        return conn.execute(
            alerts.insert()
            .values(
                kind=kind,
                severity=severity,
                semester=semester,
                message=message,
                context=context,
                fingerprint=fingerprint,
                delivered=False,
                created_at=now,
            )
            .returning(alerts.c.id)
        ).scalar_one()

    return run_in_transaction(engine, work)


def mark_delivered(engine: Engine, alert_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(delivered=True))


def list_alerts(engine: Engine, *, kind: str | None = None, limit: int = 100) -> list[StoredAlert]:
    """The newest alerts first, optionally of one kind."""
    query = sa.select(alerts).order_by(alerts.c.created_at.desc(), alerts.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    with engine.connect() as conn:
        return [StoredAlert(**row._mapping) for row in conn.execute(query)]
