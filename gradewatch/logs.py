"""One logging setup for the web app, the Dagster runs and the CLI (SPEC section 8).

``configure_logging(settings, service)`` installs one handler on the root logger:

* with ``LOGSTASH_HOST`` set, a bounded :class:`~logging.handlers.QueueHandler`; a
  :class:`~logging.handlers.QueueListener` thread ships the records through python-logstash's
  TCP handler as JSON lines. The caller only ever does a non-blocking ``put``: when Logstash
  is slow, dead or absent the queue fills, new records are dropped and counted
  (:func:`dropped_records`), and a WARNING carrying ``dropped_records`` is shipped once
  Logstash accepts records again. WARNING and above also go to the console.
* without it, a readable console handler on standard error.

Every record becomes the JSON object described by :data:`FIELD_TYPES` (the Elasticsearch
index template in ``elk/`` maps exactly these fields; a test keeps the two in step). Fields
come from ``extra=`` and from :func:`log_context`, a context manager over a ``ContextVar``
so that a request or a run can attach ``request_id``, ``run_id``, ``semester``, ... once.

Logs never carry row values: values are only copied into known typed fields, anything that
is not a plain scalar is replaced by its type name, and a DataFrame, Series or array passed
as a message or argument is rendered as its shape only.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import queue
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, date, datetime
from logging.handlers import QueueHandler, QueueListener
from types import MappingProxyType
from typing import Any

from logstash import TCPLogstashHandler

from gradewatch.monitoring.summaries import SUMMARY_FIELD_TYPES
from gradewatch.plain import plain
from gradewatch.settings import Settings, SettingsError, load_settings

QUEUE_SIZE = 10_000

# Every field a GradeWatch record can carry, with its Elasticsearch type.
FIELD_TYPES: dict[str, str] = {
    # on every record
    "@timestamp": "date",
    "@version": "keyword",
    "message": "text",
    "level": "keyword",
    "logger_name": "keyword",
    "service": "keyword",
    "environment": "keyword",
    "hostname": "keyword",
    "process_id": "integer",
    "module": "keyword",
    "lineno": "integer",
    "tags": "keyword",
    # context, where it applies
    "request_id": "keyword",
    "run_id": "keyword",
    "semester": "keyword",
    "model_version": "keyword",
    "latency_ms": "float",
    # web requests (webapp/request_logging.py)
    "http_method": "keyword",
    "path": "keyword",
    "status": "integer",
    "token_name": "keyword",
    # uploads: counts only, never the rows
    "upload_mode": "keyword",
    "rows_received": "integer",
    "rows_inserted": "integer",
    "rows_updated": "integer",
    "rows_unchanged": "integer",
    "rows_rejected": "integer",
    "dropped_columns": "integer",
    # alerts (gradewatch/monitoring/alerts.py)
    "alert_kind": "keyword",
    "alert_context": "flattened",
    # Dagster
    "job_name": "keyword",
    "step_key": "keyword",
    "dagster_event_type": "keyword",
    # the logging pipeline itself, errors, and anything else given in extra=
    "dropped_records": "integer",
    "error_type": "keyword",
    "stack_trace": "text",
    "extra_fields": "flattened",
    # the summary records of the dashboards (gradewatch/monitoring/summaries.py)
    **SUMMARY_FIELD_TYPES,
}
_COMPUTED = frozenset(
    {"@timestamp", "@version", "message", "level", "logger_name", "hostname", "process_id",
     "module", "lineno", "error_type", "stack_trace", "extra_fields"}
)  # fmt: skip
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_DAGSTER_ATTRS = frozenset({"dagster_meta", "dagster_event", "dagster_event_batch_metadata"})
_HOSTNAME = socket.gethostname()

# An immutable default: bind_context() always sets a new mapping, never mutates this one.
_context: ContextVar[Mapping[str, Any]] = ContextVar("gradewatch_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach ``fields`` to every record logged inside the block (this thread or task)."""
    token = bind_context(**fields)
    try:
        yield
    finally:
        reset_context(token)


def bind_context(**fields: Any) -> Token[Mapping[str, Any]]:
    """Like :func:`log_context`, for code whose start and end are separate hooks (Flask)."""
    return _context.set({**_context.get(), **fields})


def reset_context(token: Token[Mapping[str, Any]]) -> None:
    _context.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_context.get())


def _redact(value: Any) -> Any:
    """A DataFrame, Series or array in a message is replaced by its shape."""
    module = type(value).__module__ or ""
    if module.split(".")[0] in {"pandas", "numpy", "pyarrow", "polars"}:
        shape = getattr(value, "shape", None)
        if shape != ():
            return f"<{type(value).__name__} shape={shape}>"
    return value


def _coerce(kind: str, value: Any) -> Any:
    """``value`` as the type Elasticsearch maps the field to, or None to leave it out.

    A wrong type would make Elasticsearch reject the whole record, so it is never sent.
    """
    if value is None:
        return None
    scalar = isinstance(value, str | int | float) or (
        getattr(value, "shape", None) == () and callable(getattr(value, "item", None))
    )
    if kind in {"keyword", "text"}:
        if kind == "keyword" and isinstance(value, list | tuple):
            return [str(v) for v in value if isinstance(v, str | int | float)]
        return str(plain(value, redact=True)) if scalar or isinstance(value, date) else None
    if kind in {"integer", "float"} and scalar and not isinstance(value, str | bool):
        number = plain(value, redact=True)
        if isinstance(number, int | float) and math.isfinite(number):
            return int(number) if kind == "integer" else float(number)
        return None
    if kind == "integer" and isinstance(value, list | tuple | set | frozenset):
        return len(value)  # e.g. dropped_columns: how many, not which
    if kind == "flattened" and isinstance(value, dict):
        return plain(value, redact=True)
    return None


def _timestamp(record: logging.LogRecord) -> str:
    # "...Z": the form Logstash's json codec reads as the event's @timestamp.
    stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured form of ``record``: the keys of :data:`FIELD_TYPES` that apply."""
    meta = getattr(record, "dagster_meta", None)
    message = record.getMessage()
    if isinstance(meta, dict) and meta.get("orig_message"):
        message = str(meta["orig_message"])
    out: dict[str, Any] = {
        "@timestamp": _timestamp(record),
        "@version": "1",
        "message": message,
        "level": record.levelname,
        "logger_name": record.name,
        "hostname": _HOSTNAME,
        "process_id": record.process or os.getpid(),
        "module": record.module,
        "lineno": record.lineno,
    }
    if isinstance(meta, dict):
        _add_dagster_fields(record, meta)
    extra: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key in _STANDARD_ATTRS or key in _DAGSTER_ATTRS or key.startswith("_"):
            continue
        kind = FIELD_TYPES.get(key)
        if kind is None:
            scalar = isinstance(value, str | int | float | bool)
            extra[key] = plain(value, redact=True) if scalar else f"<{type(value).__name__}>"
        elif key not in _COMPUTED:
            coerced = _coerce(kind, value)
            if coerced is not None:
                out[key] = coerced
    if extra:
        out["extra_fields"] = extra
    if record.exc_info and record.exc_info[0] is not None:
        out["error_type"] = record.exc_info[0].__name__
        out["stack_trace"] = logging.Formatter().formatException(record.exc_info)
    return out


def _add_dagster_fields(record: logging.LogRecord, meta: dict[str, Any]) -> None:
    event = meta.get("dagster_event")
    tags = meta.get("job_tags") or {}
    found = {
        "run_id": meta.get("run_id"),
        "job_name": meta.get("job_name"),
        "step_key": meta.get("step_key"),
        # the enum's name (RUN_SUCCESS), not its legacy value (PIPELINE_SUCCESS)
        "dagster_event_type": getattr(getattr(event, "event_type", None), "name", None),
        "semester": tags.get("dagster/partition"),
    }
    for key, value in found.items():
        if value is not None and getattr(record, key, None) is None:
            setattr(record, key, value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), default=str, ensure_ascii=False)


_CONSOLE_KEYS = (
    "event", "request_id", "run_id", "semester", "model_version", "http_method", "path", "status",
    "latency_ms", "token_name", "rows_received", "rows_inserted", "rows_updated",
    "rows_rejected", "alert_kind", "dropped_records",
)  # fmt: skip


class ConsoleFormatter(logging.Formatter):
    """``time LEVEL logger: message  key=value ...`` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = record_fields(record)
        pairs = " ".join(f"{k}={fields[k]}" for k in _CONSOLE_KEYS if k in fields)
        return f"{text}  [{fields.get('service', '-')}] {pairs}".rstrip()


class _ContextFilter(logging.Filter):
    """Runs in the caller's thread: attaches the defaults and the log context, redacts frames."""

    def __init__(self, defaults: Mapping[str, Any]) -> None:
        super().__init__()
        self.defaults = dict(defaults)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_gw_shipped", False):
            return False  # already shipped by DagsterHandler; this is its propagated twin
        for key, value in (*self.defaults.items(), *_context.get().items()):
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact(v) for k, v in record.args.items()}
        return True


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue_full = 0
        self.send_failed = 0
        self.reported = 0

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    @property
    def dropped(self) -> int:
        return self.queue_full + self.send_failed


_stats = _Stats()


def dropped_records() -> int:
    """How many records this process could not ship to Logstash (queue full or send failed)."""
    return _stats.dropped


def log_stats() -> dict[str, int]:
    """Counters of the shipping pipeline, e.g. for a health endpoint."""
    with _lock:
        listener = _state.listener if _state is not None else None
        queued = listener.queue.qsize() if listener is not None else 0
    return {"queued": queued, "queue_full": _stats.queue_full, "send_failed": _stats.send_failed}


class _BoundedQueueHandler(QueueHandler):
    def __init__(self, q: queue.Queue[Any]) -> None:
        super().__init__(q)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Format to the final JSON now, in the caller's thread, while the log context and
        # the objects it refers to still hold the values of this moment. The queue then
        # holds only that text: not the caller's record, which other handlers (pytest's
        # caplog, Dagster's) still use, nor the objects it refers to.
        text = json.dumps(record_fields(record), default=str, ensure_ascii=False)
        return logging.makeLogRecord(
            {"name": record.name, "levelno": record.levelno, "levelname": record.levelname,
             "msg": text, "created": record.created}
        )  # fmt: skip

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            _stats.add("queue_full")


class _Preformatted(logging.Formatter):
    def format(self, record: logging.LogRecord) -> bytes:  # type: ignore[override]
        return str(record.msg).encode("utf-8")


class _LogstashShipper(TCPLogstashHandler):
    """python-logstash's TCP handler, counting what it cannot send and reporting the drops."""

    def __init__(self, host: str, port: int, defaults: Mapping[str, Any]) -> None:
        super().__init__(host, port, version=1)
        self.formatter = _Preformatted()
        self.defaults = dict(defaults)

    def send(self, s: bytes) -> None:
        if self.sock is None:
            self.createSocket()  # retries with exponential back-off, never raises
        if self.sock is None:
            _stats.add("send_failed")
            return
        try:
            self.sock.sendall(s)
        except OSError:  # includes the 1 s send timeout of a peer that never reads
            self.sock.close()
            self.sock = None
            _stats.add("send_failed")
            return
        self._report_drops()

    def _report_drops(self) -> None:
        with _stats.lock:
            pending = _stats.dropped - _stats.reported
            _stats.reported = _stats.dropped
        if pending <= 0:
            return
        note = logging.makeLogRecord(
            {"name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
             "msg": "%d log records were dropped while Logstash was unreachable or slow",
             "args": (pending,), "dropped_records": pending, **self.defaults}
        )  # fmt: skip
        line = json.dumps(record_fields(note), default=str).encode("utf-8") + b"\n"
        try:
            self.sock.sendall(line)
        except OSError:
            self.sock.close()
            self.sock = None


class _Listener(QueueListener):
    def stop(self, timeout: float = 2.0) -> None:  # type: ignore[override]
        # The standard stop() waits for the whole queue; behind a dead Logstash that could
        # take hours. The thread is a daemon, so giving up after ``timeout`` is safe.
        with suppress(queue.Full):
            self.queue.put_nowait(self._sentinel)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                # Still stuck behind Logstash: discard what is left (counted) so that the
                # thread ends after its current send instead of shipping stale records.
                with suppress(queue.Empty):
                    while True:
                        if self.queue.get_nowait() is not self._sentinel:
                            _stats.add("send_failed")
                with suppress(queue.Full):
                    self.queue.put_nowait(self._sentinel)
            self._thread = None


@dataclass
class _State:
    key: tuple[Any, ...]
    handlers: list[logging.Handler]
    listener: _Listener | None
    shipper: _LogstashShipper | None


_lock = threading.RLock()
_state: _State | None = None


def configure_logging(settings: Settings, service: str) -> None:
    """Install GradeWatch's logging for ``service`` ("webapp", "dagster", "cli", ...).

    Idempotent: calling it again with the same settings changes nothing; with other settings
    it replaces the previous setup.
    """
    global _state
    key = (service, settings.environment, settings.log_level, settings.logstash_host,
           settings.logstash_port)  # fmt: skip
    with _lock:
        if _state is not None and _state.key == key:
            return
        _teardown()
        defaults = {"service": service, "environment": settings.environment}
        context_filter = _ContextFilter(defaults)
        handlers: list[logging.Handler] = []
        listener = shipper = None
        if settings.logstash_host:
            records: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
            shipper = _LogstashShipper(settings.logstash_host, settings.logstash_port, defaults)
            listener = _Listener(records, shipper)
            listener.start()
            handlers.append(_BoundedQueueHandler(records))
        console = logging.StreamHandler()
        console.setFormatter(ConsoleFormatter())
        if settings.logstash_host:
            console.setLevel(logging.WARNING)  # problems stay visible in `docker logs`
        handlers.append(console)
        root = logging.getLogger()
        for handler in handlers:
            handler.addFilter(context_filter)
            root.addHandler(handler)
        root.setLevel(settings.log_level)
        _state = _State(key, handlers, listener, shipper)


def shutdown_logging(timeout: float = 2.0) -> None:
    """Remove GradeWatch's handlers and stop the shipping thread, waiting at most ``timeout``."""
    with _lock:
        _teardown(timeout)


def _teardown(timeout: float = 2.0) -> None:
    global _state
    if _state is None:
        return
    root = logging.getLogger()
    for handler in _state.handlers:
        root.removeHandler(handler)
    if _state.listener is not None:
        _state.listener.stop(timeout)
    if _state.shipper is not None:
        _state.shipper.close()
    for handler in _state.handlers:
        handler.close()
    _state = None


atexit.register(shutdown_logging)


def shipping_handler(service: str, *, from_env: bool) -> logging.Handler | None:
    """The handler that ships to Logstash, configuring logging from the environment once if asked."""
    with _lock:
        if _state is None:
            if not from_env:
                return None
            try:
                settings = load_settings()
            except SettingsError:
                return None
            if not settings.logstash_host:
                return None
            configure_logging(settings, service)
        assert _state is not None
        if _state.listener is None:
            return None
        return _state.handlers[0]
