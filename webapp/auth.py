"""Bearer-token authentication with scopes (``upload``, ``report``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from gradewatch.storage.db import utcnow
from gradewatch.storage.tokens import TokenInfo, authenticate, record_use
from webapp.context import get_engine
from webapp.errors import ApiError

P = ParamSpec("P")
R = TypeVar("R")


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_token(scope: str) -> TokenInfo:
    """The request's token if it is valid and carries ``scope``; else a 401 or 403 ApiError."""
    token = bearer_token()
    if token is None:
        raise ApiError(401, "Sign in: send the header 'Authorization: Bearer <token>'. "
                            "Ask IT for a token ('gradewatch token create').")
    info = authenticate(get_engine(), token)
    if info is None:
        raise ApiError(401, "This token is not valid or has been revoked. Ask IT for a new one.")
    now = utcnow()
    if info.expired(now):
        raise ApiError(401, f"This token expired on {info.expires_at:%Y-%m-%d %H:%M} UTC. "
                            "Ask IT for a new one ('gradewatch token create --expires-in 90d').")
    g.token_name = info.name
    if scope not in info.scopes:
        raise ApiError(403, f"This token may not {scope}; it has the scope(s) "
                            f"{', '.join(sorted(info.scopes))}. Ask IT for a token with '{scope}'.")
    record_use(get_engine(), info, now)  # only a request the token is allowed to make counts
    return info


def require_scope(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            current_token(scope)
            return view(*args, **kwargs)

        return wrapped

    return decorator
