"""Run the app under waitress, a production WSGI server that needs nothing else installed.

Two things waitress does on its own are changed here:

- it answers a request it refuses before the app sees it (a body over the limit, a malformed
  request) with a ``text/plain`` page; GradeWatch answers every error with the same JSON,
  ``{"error": "<message>"}``, so its channel gets an error task that writes that;
- it has one body limit for every address; the prediction endpoints, which need no token,
  get their own smaller one (``webapp.limits``) from a request parser that applies it as soon
  as the request line is read, so an anonymous client cannot make it hold more.
"""

from __future__ import annotations

import json
import logging
import sys

from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from gradewatch.settings import Settings
from webapp.limits import body_limit, too_large_message

log = logging.getLogger(__name__)

ENVELOPE = 1024 * 1024  # room for the multipart envelope around an uploaded file


def server_options(settings: Settings, threads: int) -> dict[str, object]:
    limit = settings.max_upload_bytes + ENVELOPE
    return {
        "threads": threads,
        "max_request_body_size": limit,
        # waitress buffers a request body to a temporary FILE past inbuf_overflow; an upload
        # holds identifying data until its PII columns are dropped, so keep it in memory.
        "inbuf_overflow": limit,
        # ... and a response (a report, predictions, an upload's result page) past
        # outbuf_overflow: never. A slow client is throttled instead, since waitress makes
        # the app wait while more than outbuf_high_watermark bytes are queued for it.
        "outbuf_overflow": sys.maxsize,
        "channel_timeout": 300,
        "ident": "gradewatch",
    }


class _AdjustedLimit:
    """waitress's adjustments with another ``max_request_body_size`` (for one request)."""

    def __init__(self, adj: Adjustments, limit: int) -> None:
        self._adj = adj
        self.max_request_body_size = limit

    def __getattr__(self, name: str) -> object:
        return getattr(self._adj, name)


class _LimitedParser(HTTPRequestParser):
    settings: Settings

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        # waitress checks Content-Length against the limit right after this returns.
        self.adj = _AdjustedLimit(self.adj, body_limit(self.settings, self.path) + ENVELOPE)


class _JsonErrorTask(ErrorTask):
    settings: Settings

    def execute(self) -> None:
        error = self.request.error
        if isinstance(error, RequestEntityTooLarge):
            message = too_large_message(self.settings, getattr(self.request, "path", ""))
        else:  # a malformed request: waitress's reason and detail hold no request data
            message = f"{error.reason}: {error.body}. The request was not read."
        body = json.dumps({"error": message}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def _channel_class(settings: Settings) -> type[HTTPChannel]:
    parser = type("GradewatchParser", (_LimitedParser,), {"settings": settings})
    error_task = type("GradewatchErrorTask", (_JsonErrorTask,), {"settings": settings})
    return type("GradewatchChannel", (HTTPChannel,), {"parser_class": parser, "error_task_class": error_task})


def run_server(app: Flask, settings: Settings, *, host: str, port: int, threads: int = 8) -> None:
    log.info("serving GradeWatch on http://%s:%d", host, port)
    server = create_server(app, host=host, port=port, **server_options(settings, threads))
    server.channel_class = _channel_class(settings)
    server.run()

