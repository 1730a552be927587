"""Run the app under waitress, a production WSGI server that needs nothing else installed."""

from __future__ import annotations

import logging

from flask import Flask
from waitress import serve

from gradewatch.settings import Settings

log = logging.getLogger(__name__)


def server_options(settings: Settings, threads: int) -> dict[str, object]:
    limit = settings.max_upload_bytes + 1024 * 1024  # room for the multipart envelope
    return {
        "threads": threads,
        "max_request_body_size": limit,
        # waitress buffers a request body to a temporary FILE past inbuf_overflow; an upload
        # holds identifying data until its PII columns are dropped, so keep it in memory.
        "inbuf_overflow": limit,
        "channel_timeout": 300,
        "ident": "gradewatch",
    }


def run_server(app: Flask, settings: Settings, *, host: str, port: int, threads: int = 8) -> None:
    log.info("serving GradeWatch on http://%s:%d", host, port)
    serve(app, host=host, port=port, **server_options(settings, threads))
