"""JSON errors everywhere: ``{"error": "<message a person can act on>"}``, never a traceback."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gradewatch.storage.db import StorageBusy
from webapp.context import get_settings
from webapp.limits import body_limit, too_large_message

log = logging.getLogger(__name__)

MESSAGES = {
    404: "There is nothing at this address. See /openapi.json for the API.",
    405: "This address does not accept that method. See /openapi.json for the API.",
}


class ApiError(Exception):
    """An error answered as JSON with ``status``; ``extra`` fields join the body."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra: object) -> Response:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def log_unexpected(exc: BaseException) -> None:
    """Log an unhandled exception by its type and the code it went through, never its text.

    An exception's message, and so a traceback, can carry row values: a database error quotes
    the statement's parameters, a KeyError the user_id it missed. The frames (file, line,
    function) say where it happened without them; so do the types of the exceptions chained.
    """
    chain: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 5:
        chain.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    frames = traceback.extract_tb(exc.__traceback__)[-8:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in reversed(frames))
    log.error("unhandled error on %s %s: %s (at %s)", request.method, request.path,
              " from ".join(chain), where or "unknown place")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, **exc.extra)

    @app.before_request
    def _body_limit() -> None:
        request.max_content_length = body_limit(get_settings(), request.path)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        return error_response(413, too_large_message(get_settings(), request.path))

    @app.errorhandler(StorageBusy)
    def _busy(exc: StorageBusy) -> Response:
        log.warning("upload waited %gs for other uploads on %s %s", exc.wait_seconds, request.method, request.path)
        response = error_response(503, str(exc))
        response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> Response:
        log.error("database unreachable on %s %s: %s", request.method, request.path, type(exc.orig).__name__)
        return error_response(503, "The database cannot be reached right now; nothing was changed. "
                                   "Please try again in a few minutes, or tell IT if it lasts.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        message = MESSAGES.get(exc.code or 500, exc.description or exc.name)
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log_unexpected(exc)
        return error_response(
            500, "Something went wrong on the server; nothing was changed. The error was logged; "
            "please try again or tell IT."
        )
