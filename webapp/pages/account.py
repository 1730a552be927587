"""Start page, sign-in with a pasted token, sign-out."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gradewatch.storage.sessions import authenticate_digest
from gradewatch.storage.tokens import hash_token
from webapp.context import get_engine, get_settings
from webapp.pages.blueprint import pages
from webapp.pages.security import current_user, safe_next, sign_in, sign_out

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@pages.get("/")
def start() -> str:
    return render_template("pages/start.html")


def _cookie_warning() -> str | None:
    """Browsers drop a Secure cookie sent over plain http (except on localhost): say so."""
    if not get_settings().session_cookie_secure or request.is_secure:
        return None
    if request.host.rsplit(":", 1)[0] in _LOOPBACK_HOSTS:
        return None
    return ("This page was reached over plain http, but the sign-in cookie is set to travel over "
            "https only, so your browser will not keep it. Use the https address of GradeWatch, "
            "or ask IT to set GRADEWATCH_SESSION_COOKIE_SECURE=0.")


@pages.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_page() -> str | tuple[str, int] | Response:
    next_page = safe_next(request.values.get("next"))
    error = None
    if request.method == "POST":
        token = request.form.get("token", "").strip()
        user = authenticate_digest(get_engine(), hash_token(token)) if token else None
        if user is not None:
            sign_in(hash_token(token))
            return redirect(next_page)
        error = ("Paste your token in the box." if not token else
                 "This token is not valid or has been revoked. Check that you pasted all of it "
                 "(it starts with gw_), or ask IT for a new one.")
    elif current_user() is not None:
        return redirect(next_page)
    ended = request.args.get("ended") == "1"
    html = render_template("pages/sign_in.html", error=error, next_page=next_page, ended=ended,
                           cookie_warning=_cookie_warning())
    return (html, 401) if error else html


@pages.post("/sign-out", endpoint="sign_out")
def sign_out_page() -> Response:
    sign_out()
    return redirect(url_for("pages.start", signed_out=1))
