"""Token checks for the web pages' session, which holds the token's sha256, never the token.

A Flask session cookie is signed, not encrypted: whoever holds the cookie can read it. Keeping
only the digest there means a copied cookie is not a bearer token for the JSON API, and looking
the digest up on every page keeps a revocation effective at the next click.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.storage.db import utcnow
from gradewatch.storage.tables import api_tokens
from gradewatch.storage.tokens import TokenInfo


def authenticate_digest(engine: Engine, token_sha256: str) -> TokenInfo | None:
    """The active token whose sha256 is ``token_sha256``, or None; records when it was last used."""
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(api_tokens).where(
                api_tokens.c.token_sha256 == token_sha256, api_tokens.c.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        conn.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=now))
    return TokenInfo(row.name, frozenset(row.scopes.split(",")), row.created_at, None, now)
