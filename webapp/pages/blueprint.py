"""The ``pages`` blueprint, its security headers and its HTML error pages."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import HTTPException

from webapp.context import get_settings
from webapp.errors import log_unexpected
from webapp.limits import too_large_message

log = logging.getLogger(__name__)
pages = Blueprint("pages", __name__)

# Everything comes from this server: no CDN, no script at all, inline SVG needs no source.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


@pages.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Pages and downloads can hold student rows: keep them out of the browser's disk cache.
    response.headers["Cache-Control"] = "no-store"
    return response


class PageError(HTTPException):
    """An error shown as a page with a title and a message that says what to do."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.code = status
        self.title = title


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("pages/error.html", status=status, title=title, message=message), status


@pages.errorhandler(413)
def _too_large(_exc: HTTPException) -> tuple[str, int]:
    return error_page(413, "The file is too large",
                      too_large_message(get_settings(), request.path) + " Nothing was stored.")


@pages.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    title = getattr(exc, "title", None) or exc.name
    return error_page(status, title, exc.description or exc.name)


@pages.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    log_unexpected(exc)
    return error_page(500, "Something went wrong",
                      "Something went wrong on the server; the error was logged. Please try again, "
                      "or tell IT if it keeps happening.")
