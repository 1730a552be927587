"""JSON errors everywhere: ``{"error": "<message a person can act on>"}``, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from webapp.context import get_settings

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


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, **exc.extra)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        limit = get_settings().max_upload_mb
        return error_response(
            413,
            f"The upload is larger than the {limit:g} MB limit (GRADEWATCH_MAX_UPLOAD_MB). "
            "Split the file, or ask IT to raise the limit.",
        )

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
        # The exception type and where it happened go to the log; never the request body.
        log.error("unhandled error on %s %s: %s", request.method, request.path, type(exc).__name__,
                  exc_info=exc)
        return error_response(
            500, "Something went wrong on the server; nothing was changed. The error was logged; "
            "please try again or tell IT."
        )
