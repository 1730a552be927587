"""API tokens: only the sha256 of a token is stored; the token itself is shown once."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.storage.db import as_utc, read_only, utcnow
from gradewatch.storage.tables import api_tokens

SCOPES = ("upload", "report")
# A visible prefix so a leaked token is easy to recognise in a scan; not a secret.
TOKEN_PREFIX = "gw_"  # noqa: S105
# last_used_at is written at most this often per token: on SQLite every write takes the one
# write lock, and "used in the last minute" is all an administrator needs to know.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([hdw])\s*$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class TokenError(ValueError):
    """A token request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None = None
    id: int | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and as_utc(self.expires_at) <= now


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h`` or ``8w`` as a timedelta, or TokenError."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise TokenError(f"an expiry must be a whole number of hours, days or weeks such as 12h, 90d "
                         f"or 8w, got {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(s.strip().lower() for s in text.split(",") if s.strip())
    unknown = scopes - set(SCOPES)
    if not scopes or unknown:
        raise TokenError(
            f"scopes must be a comma-separated list of {', '.join(SCOPES)}"
            + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
        )
    return scopes


def create_token(engine: Engine, name: str, scopes: frozenset[str], *,
                 expires_in: timedelta | None = None) -> str:
    """Store a new token under ``name`` and return it; it cannot be recovered later.

    With ``expires_in``, the token is refused from that long after now on.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("a token name must be 1 to 100 characters long")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        exists = conn.execute(sa.select(api_tokens.c.id).where(api_tokens.c.name == name)).first()
        if exists:
            raise TokenError(f"a token named {name!r} already exists; revoke it or pick another name")
        conn.execute(
            api_tokens.insert().values(
                name=name,
                token_sha256=hash_token(token),
                scopes=",".join(sorted(scopes)),
                created_at=(now := utcnow()),
                expires_at=now + expires_in if expires_in else None,
            )
        )
    return token


def revoke_token(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        result = conn.execute(
            api_tokens.update()
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    if result.rowcount == 0:
        raise TokenError(f"no active token named {name!r}")


@contextmanager
def temporary_token(engine: Engine, name: str, scopes: frozenset[str]) -> Iterator[str]:
    """A token for the length of a block (``gradewatch up``, the demo), revoked when it ends."""
    token = create_token(engine, name, scopes)
    try:
        yield token
    finally:
        revoke_token(engine, name)


def authenticate(engine: Engine, token: str) -> TokenInfo | None:
    """The unrevoked token matching ``token`` (maybe expired: see :meth:`TokenInfo.expired`), or None.

    Only reads: :func:`record_use` writes ``last_used_at`` once the request is allowed.
    """
    with read_only(engine) as conn:
        row = conn.execute(
            sa.select(api_tokens).where(
                api_tokens.c.token_sha256 == hash_token(token), api_tokens.c.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        return None
    return TokenInfo(row.name, frozenset(row.scopes.split(",")), row.created_at, None, row.last_used_at,
                     row.expires_at, row.id)


def record_use(engine: Engine, info: TokenInfo, now: datetime) -> None:
    """Write ``last_used_at``, unless it was written less than a minute ago."""
    last = info.last_used_at
    if last is not None and now - as_utc(last) < LAST_USED_RESOLUTION:
        return
    cutoff = now - LAST_USED_RESOLUTION
    with engine.begin() as conn:  # the condition again: another request may have just written it
        conn.execute(api_tokens.update()
                     .where(api_tokens.c.id == info.id,
                            sa.or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < cutoff))
                     .values(last_used_at=now))


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.name)).all()
    return [
        TokenInfo(r.name, frozenset(r.scopes.split(",")), r.created_at, r.revoked_at, r.last_used_at,
                  r.expires_at, r.id)
        for r in rows
    ]
