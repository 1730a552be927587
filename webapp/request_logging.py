"""One log record per request, and the ``X-Request-Id`` header (issue 6).

The record carries method, path, status, ``latency_ms``, the token's *name* (set by the auth
code in ``g.token_name``; the token itself is never read here) and, for uploads, the counts
that the view leaves in ``g.log_fields``. Only the keys of :data:`REQUEST_FIELDS` are taken
from ``g.log_fields``, and :mod:`gradewatch.logs` keeps only numbers in the count fields, so
a row's values cannot reach the log through this path.

The request id is honoured when the client sends a sane one (a proxy's, say), generated
otherwise, attached to every record logged during the request, and returned in the response.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextlib import suppress
from typing import Any

from flask import Flask, Response, g, request

from gradewatch.logs import bind_context, reset_context

REQUEST_ID_HEADER = "X-Request-Id"
# What the view may pass in g.log_fields; anything else is ignored.
REQUEST_FIELDS = (
    "semester", "model_version", "upload_mode", "rows_received", "rows_inserted",
    "rows_updated", "rows_unchanged", "rows_rejected", "dropped_columns",
)  # fmt: skip
# A client's id is logged verbatim, so it must not be able to forge log content.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

log = logging.getLogger("webapp.request")


def init_request_logging(app: Flask) -> None:
    """Register the hooks; they run first (start) and last (finish) whatever the call order.

    Calling it twice on the same app changes nothing.
    """
    if app.extensions.get("gradewatch.request_logging"):
        return
    app.extensions["gradewatch.request_logging"] = True
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    # after_request hooks run in reverse order of registration: first in the list runs last.
    app.after_request_funcs.setdefault(None, []).insert(0, _finish)
    app.teardown_request(_teardown)


def _start() -> None:
    g._gw_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g._gw_context = bind_context(request_id=g.request_id)


def _fields(status: int) -> dict[str, Any]:
    started = g.get("_gw_started")
    latency = (time.perf_counter() - started) * 1000 if started is not None else None
    fields: dict[str, Any] = {
        "http_method": request.method,
        "path": request.path,
        "status": status,
        "latency_ms": None if latency is None else round(latency, 3),
        "token_name": g.get("token_name"),
        "request_id": g.get("request_id"),
    }
    extra = g.get("log_fields")
    if isinstance(extra, dict):
        fields.update({k: extra[k] for k in REQUEST_FIELDS if k in extra})
    return fields


def _emit(status: int) -> None:
    fields = _fields(status)
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    latency = fields["latency_ms"]
    log.log(
        level,
        "%s %s %s %s ms",
        fields["http_method"],
        fields["path"],
        status,
        "-" if latency is None else f"{latency:.1f}",
        extra=fields,
    )
    g._gw_logged = True


def _finish(response: Response) -> Response:
    if g.get("request_id") is None:  # a request that never reached _start (should not happen)
        g.request_id = uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = g.request_id
    _emit(response.status_code)
    return response


def _teardown(error: BaseException | None) -> None:
    try:
        if error is not None and not g.get("_gw_logged"):
            _emit(500)  # an exception escaped the error handlers (e.g. TESTING propagates it)
    finally:
        token = g.pop("_gw_context", None)
        if token is not None:
            # A streamed response may end in another context; the token is then moot.
            with suppress(ValueError):
                reset_context(token)
