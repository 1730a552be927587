"""API tokens: only the sha256 of a token is stored; the token itself is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.storage.db import utcnow
from gradewatch.storage.tables import api_tokens

SCOPES = ("upload", "report")
# A visible prefix so a leaked token is easy to recognise in a scan; not a secret.
TOKEN_PREFIX = "gw_"  # noqa: S105


class TokenError(ValueError):
    """A token request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


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


def create_token(engine: Engine, name: str, scopes: frozenset[str]) -> str:
    """Store a new token under ``name`` and return it; it cannot be recovered later."""
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
                created_at=utcnow(),
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


def authenticate(engine: Engine, token: str) -> TokenInfo | None:
    """The active token matching ``token``, or None; records when it was last used."""
    digest = hash_token(token)
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(api_tokens).where(
                api_tokens.c.token_sha256 == digest, api_tokens.c.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        conn.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=now))
    return TokenInfo(row.name, frozenset(row.scopes.split(",")), row.created_at, None, now)


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.name)).all()
    return [
        TokenInfo(r.name, frozenset(r.scopes.split(",")), r.created_at, r.revoked_at, r.last_used_at)
        for r in rows
    ]
