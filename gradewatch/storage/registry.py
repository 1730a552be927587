"""SQL of the model registry (``model_versions``).

Champion changes (promote, rollback, registering a champion) run in one transaction that first
takes a registry-wide lock: an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite (see
db.py). Concurrent promotions therefore queue up instead of failing, and readers only ever see
the committed state, with exactly one champion. The partial unique index on ``status`` is the
database's own guarantee behind this.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.plain import plain
from gradewatch.storage.db import is_postgres, run_in_transaction, utcnow
from gradewatch.storage.tables import model_versions as mv

STATUSES = ("champion", "challenger", "retired")
_CHAMPION_LOCK = 0x6772_6164_6577  # any constant, shared by every champion change


class RegistryError(ValueError):
    """A registry request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class VersionRecord:
    version: str
    algorithm: str
    parameters: dict[str, Any]
    feature_spec: dict[str, Any]
    training_semesters: list[str]
    metrics: dict[str, Any]
    status: str
    artifact_sha256: str
    trained_at: datetime
    promoted_at: datetime | None


_RECORD_COLUMNS = (
    mv.c.version, mv.c.algorithm, mv.c.parameters, mv.c.feature_spec, mv.c.training_semesters,
    mv.c.metrics, mv.c.status, mv.c.artifact_sha256, mv.c.trained_at, mv.c.promoted_at,
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record(row: sa.Row) -> VersionRecord:
    return VersionRecord(
        row.version, row.algorithm, row.parameters, row.feature_spec, list(row.training_semesters),
        row.metrics, row.status, row.artifact_sha256, row.trained_at, row.promoted_at,
    )


def _lock(conn: Connection) -> None:
    if is_postgres(conn):
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHAMPION_LOCK)))


def _make_champion(conn: Connection, version: str, now: datetime | None) -> None:
    """Retire the current champion and crown ``version``; ``now=None`` keeps promoted_at."""
    conn.execute(mv.update().where(mv.c.status == "champion").values(status="retired"))
    values: dict[str, Any] = {"status": "champion"}
    if now is not None:
        values["promoted_at"] = now
    conn.execute(mv.update().where(mv.c.version == version).values(**values))


def insert_version(
    engine: Engine,
    *,
    algorithm: str,
    parameters: Mapping[str, Any],
    feature_spec: Mapping[str, Any],
    training_semesters: Sequence[str],
    metrics: Mapping[str, Any],
    reference_profile: Mapping[str, Any] | None,
    artifact: bytes,
    status: str = "challenger",
) -> str:
    """Store a new version and return its name (``v<id>``)."""
    if status not in STATUSES:
        raise RegistryError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    now = utcnow()

    def work(conn: Connection) -> str:
        if status == "champion":
            _lock(conn)
        row_id = conn.execute(
            mv.insert().values(
                version=f"new-{uuid.uuid4().hex}",
                algorithm=algorithm,
                parameters=plain(parameters),
                feature_spec=plain(feature_spec),
                training_semesters=list(training_semesters),
                metrics=plain(metrics),
                reference_profile=plain(reference_profile),
                artifact=artifact,
                artifact_sha256=sha256_hex(artifact),
                status="retired" if status == "champion" else status,
                trained_at=now,
            ).returning(mv.c.id)
        ).scalar_one()
        version = f"v{row_id}"  # the id is unique, so the name is too, without a race
        conn.execute(mv.update().where(mv.c.id == row_id).values(version=version))
        if status == "champion":
            _make_champion(conn, version, now)
        return version

    return run_in_transaction(engine, work)


def list_versions(engine: Engine) -> list[VersionRecord]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*_RECORD_COLUMNS).order_by(mv.c.id)).all()
    return [_record(r) for r in rows]


def get_version(engine: Engine, version: str) -> VersionRecord | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(*_RECORD_COLUMNS).where(mv.c.version == version)).first()
    return None if row is None else _record(row)


def champion_version(engine: Engine) -> str | None:
    """The champion's name only: one indexed lookup, cheap enough to call per request."""
    with engine.connect() as conn:
        return conn.execute(sa.select(mv.c.version).where(mv.c.status == "champion")).scalar()


def champion_record(engine: Engine) -> VersionRecord | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(*_RECORD_COLUMNS).where(mv.c.status == "champion")).first()
    return None if row is None else _record(row)


def shadow_record(engine: Engine) -> VersionRecord | None:
    """The shadow model: the newest challenger registered after the champion (an older one
    lost to the champion's own evidence and is obsolete)."""
    with engine.connect() as conn:
        champion_id = conn.execute(sa.select(mv.c.id).where(mv.c.status == "champion")).scalar()
        if champion_id is None:
            return None
        row = conn.execute(
            sa.select(*_RECORD_COLUMNS)
            .where(mv.c.status == "challenger", mv.c.id > champion_id)
            .order_by(mv.c.id.desc()).limit(1)
        ).first()
    return None if row is None else _record(row)


def read_artifact(engine: Engine, version: str) -> tuple[bytes, str]:
    """The artifact bytes of ``version`` and the sha256 recorded when it was registered."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(mv.c.artifact, mv.c.artifact_sha256).where(mv.c.version == version)
        ).first()
    if row is None:
        raise RegistryError(f"unknown model version {version!r}")
    return bytes(row.artifact), row.artifact_sha256


def read_reference_profile(engine: Engine, version: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(mv.c.reference_profile).where(mv.c.version == version)
        ).scalar()


def previous_champions(engine: Engine, version: str) -> list[str]:
    """Versions that were champion before ``version`` was last crowned, newest first."""
    with engine.connect() as conn:
        since = conn.execute(sa.select(mv.c.promoted_at).where(mv.c.version == version)).scalar()
        query = sa.select(mv.c.version).where(
            mv.c.version != version, mv.c.status != "champion", mv.c.promoted_at.is_not(None)
        )
        if since is not None:
            query = query.where(mv.c.promoted_at < since)
        return list(conn.execute(query.order_by(mv.c.promoted_at.desc(), mv.c.id.desc())).scalars())


def set_champion(engine: Engine, version: str) -> None:
    """Promote ``version`` atomically; the former champion becomes ``retired``."""

    def work(conn: Connection) -> None:
        _lock(conn)
        status = conn.execute(sa.select(mv.c.status).where(mv.c.version == version)).scalar()
        if status is None:
            raise RegistryError(f"unknown model version {version!r}")
        if status != "champion":
            _make_champion(conn, version, utcnow())

    run_in_transaction(engine, work)


def rollback_champion(engine: Engine) -> tuple[str, str]:
    """Give the crown back to the newest earlier champion whose artifact is intact.

    The restored version keeps its original ``promoted_at``, so a second rollback walks further
    back in history instead of bouncing between two versions. Returns (from, to).
    """

    def work(conn: Connection) -> tuple[str, str]:
        _lock(conn)
        current = conn.execute(
            sa.select(mv.c.version, mv.c.promoted_at).where(mv.c.status == "champion")
        ).first()
        if current is None:
            raise RegistryError("there is no champion to roll back from")
        query = sa.select(mv.c.version).where(
            mv.c.status != "champion", mv.c.promoted_at.is_not(None)
        )
        if current.promoted_at is not None:
            query = query.where(mv.c.promoted_at < current.promoted_at)
        earlier = conn.execute(query.order_by(mv.c.promoted_at.desc(), mv.c.id.desc())).scalars()
        for version in list(earlier):  # one artifact in memory at a time
            row = conn.execute(
                sa.select(mv.c.artifact, mv.c.artifact_sha256).where(mv.c.version == version)
            ).one()
            if sha256_hex(bytes(row.artifact)) == row.artifact_sha256:
                _make_champion(conn, version, None)
                return current.version, version
        raise RegistryError(
            f"no earlier champion with an intact artifact to roll back to from {current.version}"
        )

    return run_in_transaction(engine, work)
