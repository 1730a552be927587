"""Sign-in state and CSRF protection of the pages.

The session cookie (signed with ``SECRET_KEY``; HTTP-only, SameSite=Lax, and Secure unless
``GRADEWATCH_SESSION_COOKIE_SECURE=0``) holds the sha256 of the pasted token, the time of
sign-in and a CSRF token. Every page looks the digest up again, so a revoked token signs the
user out at the next click, and a sign-in lasts :data:`SIGN_IN_HOURS` at most.

CSRF: a random token per session, sent back in a hidden field of every form and compared in
constant time before any POST view of the blueprint runs. The JSON API is another blueprint
that authenticates with a bearer header (which a foreign site cannot send), so it is not
concerned.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from gradewatch.storage.sessions import authenticate_digest
from gradewatch.storage.tokens import TokenInfo
from webapp.context import get_engine
from webapp.pages.blueprint import PageError, pages

P = ParamSpec("P")
R = TypeVar("R")

CSRF_FIELD = "csrf_token"
SIGN_IN_HOURS = 8
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


CSRF_REFUSED = (
    "The form was not sent from a GradeWatch page of this browser session (its security token "
    "is missing or out of date), so nothing was done. Go back, reload the page and send the form "
    "again. If this keeps happening, your browser is not keeping GradeWatch's cookie: on a server "
    "reached over plain http (not https), IT must set GRADEWATCH_SESSION_COOKIE_SECURE=0."
)


@pages.app_template_global()
def csrf_field_name() -> str:
    return CSRF_FIELD


@pages.app_template_global()
def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


@pages.before_request
def _check_csrf() -> None:
    if request.method in _SAFE_METHODS:
        return
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PageError(400, "This form cannot be accepted", CSRF_REFUSED)


def sign_in(token_sha256: str) -> None:
    """Start a fresh session (new CSRF token too), so a planted session id cannot be reused."""
    session.clear()
    session["token_sha256"] = token_sha256
    session["signed_in_at"] = int(time.time())
    csrf_token()


def sign_out() -> None:
    session.clear()


@pages.app_template_global()
def current_user() -> TokenInfo | None:
    """The signed-in token, checked against the database once per request."""
    if "gw_user" in g:
        return g.gw_user
    user = None
    digest = session.get("token_sha256")
    started = session.get("signed_in_at", 0)
    if digest and time.time() - started < SIGN_IN_HOURS * 3600:
        user = authenticate_digest(get_engine(), digest)
    if digest and user is None:
        session.pop("token_sha256", None)  # revoked or expired: forget it
        g.gw_session_ended = True
    if user is not None:
        g.token_name = user.name  # the request log names the token, never shows it
    g.gw_user = user
    return user


def safe_next(target: str | None) -> str:
    """A local path to go back to after sign-in; anything else (another site) becomes '/'."""
    if not target:
        return url_for("pages.start")
    parts = urlsplit(target)
    # Browsers read "/\\host" as "//host", another site: refuse backslashes too.
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target):
        return url_for("pages.start")
    return target


def signed_in(scope: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Views for signed-in users; with ``scope``, only for tokens that carry it."""

    def decorator(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            user = current_user()
            if user is None:
                ended = "1" if g.get("gw_session_ended") else None
                return redirect(url_for("pages.sign_in", next=request.path, ended=ended))
            if scope is not None and scope not in user.scopes:
                raise PageError(
                    403, "Your token does not allow this",
                    f"You are signed in as “{user.name}”, whose token may "
                    f"{' and '.join(sorted(user.scopes))} but not {scope}. "
                    f"Ask IT for a token with the “{scope}” scope.")
            return view(*args, **kwargs)

        return wrapped

    return decorator
