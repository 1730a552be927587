"""Alerts for the ML engineer (SPEC section 8).

``alert(kind, severity, message, **context)`` always writes a WARNING or ERROR log record
tagged ``alert`` (so it reaches Kibana's ``gradewatch-alerts`` index). Once
:func:`configure_alerts` has been called it also

* stores the alert in the ``alerts`` table when an engine is given, which is also how
  identical alerts are de-duplicated across processes (Dagster runs each step in its own
  process); without an engine, de-duplication is per process, in memory;
* POSTs it to ``settings.alert_webhook_url`` (Slack- and Teams-compatible JSON) from a
  background thread, with a timeout and retries, so a slow or broken webhook never delays
  or fails the caller.

Two alerts are identical when kind, severity, semester and message are equal; the context
(metric values, run ids) is deliberately left out, because it differs on every run.

Callers pass aggregates and identifiers in ``context`` (feature names, metric values,
semester keys, model versions), never rows: context values that are not plain JSON are
replaced by their type name.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from gradewatch.plain import plain
from gradewatch.settings import Settings
from gradewatch.storage.alerts import mark_delivered, record_alert
from gradewatch.storage.db import utcnow

ALERT_KINDS = frozenset(
    {
        "drift_detected",
        "accuracy_degraded",
        "data_quality",
        "run_failed",
        "model_promoted",
        "model_kept",
        "model_artifact_corrupt",
        "final_grades_missing",
        "inbox_rejected_pending",
        "accuracy_not_measured",
        "model_not_informative",
        "accuracy_expected_to_degrade",
        "fairness_gap",
    }
)
SEVERITIES = {"warning": logging.WARNING, "error": logging.ERROR}
ALERT_TAG = "alert"

logger = logging.getLogger("gradewatch.monitoring.alerts")


@dataclass
class _Config:
    settings: Settings
    engine: Engine | None
    timeout: float
    attempts: int
    backoff: float
    seen: dict[str, datetime] = field(default_factory=dict)  # fingerprint -> last sent (no engine)


_lock = threading.Lock()
_config: _Config | None = None
_outbox: queue.Queue[tuple[_Config, dict[str, Any], int | None] | None] = queue.Queue(maxsize=200)
_worker: threading.Thread | None = None


def configure_alerts(
    settings: Settings,
    engine: Engine | None = None,
    *,
    webhook_timeout: float = 5.0,
    webhook_attempts: int = 3,
    webhook_backoff: float = 0.5,
) -> None:
    """Turn on storage, de-duplication and the webhook. Calling it again replaces the setup."""
    global _config
    with _lock:
        _config = _Config(settings, engine, webhook_timeout, max(1, webhook_attempts), webhook_backoff)


def reset_alerts() -> None:
    """Back to the unconfigured state (log records only); for tests and shutdown."""
    global _config
    with _lock:
        _config = None


def alert(kind: str, severity: str, message: str, **context: Any) -> bool:
    """Raise an alert; returns False when an identical one was raised within the window.

    ``severity`` is ``"warning"`` or ``"error"``. ``context`` may hold ``semester``
    (the partition key), ``model_version``, ``run_id`` and any other aggregate values.
    """
    if kind not in ALERT_KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {sorted(ALERT_KINDS)}")
    level = SEVERITIES.get(severity.lower())
    if level is None:
        raise ValueError(f"alert severity must be 'warning' or 'error', got {severity!r}")
    severity = severity.lower()
    context = plain(context, redact=True)
    semester = None if context.get("semester") is None else str(context["semester"])
    fingerprint = _fingerprint(kind, severity, semester, message)
    config = _config
    alert_id: int | None = None
    if config is not None:
        fresh, alert_id = _claim(config, kind, severity, semester, message, context, fingerprint)
        if not fresh:
            logger.info(
                "duplicate alert suppressed: %s",
                kind,
                extra={"alert_kind": kind, "semester": semester, "tags": ["alert_suppressed"]},
            )
            return False
    extra = {
        "tags": [ALERT_TAG],
        "alert_kind": kind,
        "alert_context": context,
        **{k: context[k] for k in ("semester", "model_version", "run_id") if k in context},
    }
    if semester is not None:
        extra["semester"] = semester
    logger.log(level, message, extra=extra)
    if config is not None and config.settings.alert_webhook_url:
        payload = webhook_payload(kind, severity, message, context, config.settings)
        _enqueue(config, payload, alert_id)
    return True


def flush_alerts(timeout: float = 10.0) -> bool:
    """Wait until queued webhook POSTs are done; False if some are still pending at ``timeout``."""
    deadline = time.monotonic() + timeout
    while _outbox.unfinished_tasks:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def webhook_payload(
    kind: str, severity: str, message: str, context: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """A body that Slack and Microsoft Teams incoming webhooks both accept.

    Slack reads ``text``; a Teams connector reads the MessageCard keys (``@type``,
    ``summary``, ``title``, ``sections``) and also ``text``. Each ignores the other's keys.
    ``gradewatch`` carries the same alert as data for any other receiver.
    """
    title = f"GradeWatch {severity.upper()}: {kind} ({settings.environment})"
    facts = [{"name": str(k), "value": _short(v)} for k, v in sorted(context.items())]
    return {
        "text": f"*{title}*\n{message}",
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": title,
        "title": title,
        "themeColor": "D13438" if severity == "error" else "FFB900",
        "sections": [{"text": message, "facts": facts}],
        "gradewatch": {
            "kind": kind,
            "severity": severity,
            "message": message,
            "environment": settings.environment,
            "context": context,
            "created_at": utcnow().isoformat(),
        },
    }


def _fingerprint(kind: str, severity: str, semester: str | None, message: str) -> str:
    text = json.dumps([kind, severity, semester, message])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _claim(
    config: _Config,
    kind: str,
    severity: str,
    semester: str | None,
    message: str,
    context: dict[str, Any],
    fingerprint: str,
) -> tuple[bool, int | None]:
    """Is this alert new within the window? Store it if so; returns (new, alert row id)."""
    window = timedelta(minutes=config.settings.alert_dedup_minutes)
    if config.engine is not None:
        try:
            alert_id = record_alert(
                config.engine, kind=kind, severity=severity, semester=semester, message=message,
                context=context, fingerprint=fingerprint, window=window,
            )  # fmt: skip
            return alert_id is not None, alert_id
        except SQLAlchemyError as exc:
            # An unreachable database must not swallow the alert (it may be what failed):
            # fall back to the in-memory window and say so.
            logger.warning("alert not stored, database error: %s", type(exc).__name__)
    now = utcnow()
    with _lock:
        last = config.seen.get(fingerprint)
        if last is not None and window > timedelta(0) and now - last < window:
            return False, None
        config.seen[fingerprint] = now
    return True, None


def _enqueue(config: _Config, payload: dict[str, Any], alert_id: int | None) -> None:
    global _worker
    with _lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_deliver_forever, name="gradewatch-alerts", daemon=True)
            _worker.start()
    try:
        _outbox.put_nowait((config, payload, alert_id))
    except queue.Full:
        kind = payload["gradewatch"]["kind"]
        logger.warning("alert webhook queue full; alert %s not posted", kind)


def _deliver_forever() -> None:
    while True:
        item = _outbox.get()
        try:
            if item is not None:
                config, payload, alert_id = item
                if _post(config, payload) and alert_id is not None and config.engine is not None:
                    mark_delivered(config.engine, alert_id)
        except Exception:  # the worker must survive anything, or later alerts are lost
            logger.exception("alert delivery failed unexpectedly")
        finally:
            _outbox.task_done()


def _post(config: _Config, payload: dict[str, Any]) -> bool:
    url = config.settings.alert_webhook_url
    assert url is not None
    kind = payload["gradewatch"]["kind"]
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:  # urllib would open file:
        logger.warning("alert webhook URL must be http(s); alert %s not posted", kind)
        return False
    body = json.dumps(payload).encode("utf-8")
    problem = ""
    for attempt in range(config.attempts):
        if attempt:
            time.sleep(config.backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own setting
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "gradewatch-alerts"},
        )
        try:
            with urllib.request.urlopen(request, timeout=config.timeout) as response:  # noqa: S310
                response.read()
            return True
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:  # the receiver rejects the body: retry is futile
                break
        except (OSError, ValueError) as exc:  # refused, timed out, bad URL
            problem = type(exc).__name__
    logger.warning(
        "alert webhook delivery failed after %d attempt(s): %s",
        attempt + 1,
        problem,
        extra={"alert_kind": kind},
    )
    return False


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@atexit.register
def _drain_at_exit() -> None:
    # A Dagster step process exits right after the step; give pending POSTs a bounded chance.
    flush_alerts(timeout=10.0)
