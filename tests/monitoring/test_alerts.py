"""gradewatch.monitoring.alerts: the log record, the alerts table, de-duplication and the webhook.

The webhook is a real HTTP server on loopback; the database is the real SQLite or
PostgreSQL of the ``engine`` fixture.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.monitoring.alerts import (
    ALERT_KINDS,
    alert,
    configure_alerts,
    flush_alerts,
    reset_alerts,
    webhook_payload,
)
from gradewatch.settings import Settings
from gradewatch.storage import make_engine
from gradewatch.storage.alerts import list_alerts
from gradewatch.storage.tables import alerts as alerts_table

SEMESTER = "2026-01-12_2026-06-30"


class Webhook:
    """A local incoming-webhook endpoint that answers ``status`` after ``delay`` seconds."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.headers.append(dict(self.headers))
                hook.bodies.append(json.loads(body))
                time.sleep(hook.delay)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a hanging handler must not hang the test's teardown
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _alerts_state() -> Iterator[None]:
    yield
    assert flush_alerts(timeout=10)
    reset_alerts()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def _configure(settings: Settings, engine: Engine | None, hook: Webhook | None, **kw: Any) -> None:
    overrides: dict[str, Any] = {"alert_webhook_url": hook.url if hook else None}
    overrides |= {k: kw.pop(k) for k in ("alert_dedup_minutes",) if k in kw}
    configure_alerts(settings.with_overrides(**overrides), engine, **kw)


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(alerts_table).order_by(alerts_table.c.id)).all()


def test_an_alert_is_a_tagged_warning_or_error_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gradewatch.monitoring.alerts")
    assert alert("drift_detected", "warning", "drift in 2 features", semester=SEMESTER, psi=0.31)
    assert alert("run_failed", "ERROR", "run 42 failed", run_id="42")
    drift, failed = caplog.records
    assert (drift.levelno, failed.levelno) == (logging.WARNING, logging.ERROR)
    assert drift.tags == ["alert"] and failed.tags == ["alert"]
    assert (drift.alert_kind, failed.alert_kind) == ("drift_detected", "run_failed")
    assert drift.semester == SEMESTER and failed.run_id == "42"
    assert drift.alert_context == {"semester": SEMESTER, "psi": 0.31}


def test_every_kind_is_accepted_and_nothing_else() -> None:
    for kind in sorted(ALERT_KINDS):
        assert alert(kind, "warning", f"{kind} happened")
    with pytest.raises(ValueError, match="unknown alert kind"):
        alert("drift", "warning", "typo in the kind")
    with pytest.raises(ValueError, match="severity"):
        alert("data_quality", "info", "not an alert level")
    issue_kinds = {"drift_detected", "accuracy_degraded", "data_quality", "run_failed",
                   "model_promoted", "model_kept", "model_artifact_corrupt"}  # fmt: skip
    assert issue_kinds <= ALERT_KINDS


def test_alerts_are_stored_and_duplicates_suppressed_within_the_window(
    settings: Settings, engine: Engine, webhook: Webhook
) -> None:
    _configure(settings, engine, webhook)
    assert alert("drift_detected", "warning", "drift in 3 features", semester=SEMESTER, n=3)
    assert not alert("drift_detected", "warning", "drift in 3 features", semester=SEMESTER, n=4)
    assert alert("drift_detected", "warning", "drift in 3 features", semester="2026-09-01_2027-01-31")
    assert alert("drift_detected", "error", "drift in 3 features", semester=SEMESTER)
    assert flush_alerts(5)
    stored = rows(engine)
    assert [(r.kind, r.severity, r.semester) for r in stored] == [
        ("drift_detected", "warning", SEMESTER),
        ("drift_detected", "warning", "2026-09-01_2027-01-31"),
        ("drift_detected", "error", SEMESTER),
    ]
    assert stored[0].context == {"semester": SEMESTER, "n": 3}
    assert all(r.delivered for r in stored)
    assert len(webhook.bodies) == 3
    newest = list_alerts(engine, kind="drift_detected")[0]
    assert (newest.severity, newest.semester) == ("error", SEMESTER)


def test_the_window_expires(settings: Settings, engine: Engine) -> None:
    _configure(settings, engine, None, alert_dedup_minutes=0.5 / 60)  # half a second
    assert alert("accuracy_degraded", "warning", "MAE 9.1 > 7.0", semester=SEMESTER)
    assert not alert("accuracy_degraded", "warning", "MAE 9.1 > 7.0", semester=SEMESTER)
    time.sleep(0.6)
    assert alert("accuracy_degraded", "warning", "MAE 9.1 > 7.0", semester=SEMESTER)
    assert len(rows(engine)) == 2


def test_without_an_engine_duplicates_are_suppressed_in_memory(settings: Settings, webhook: Webhook) -> None:
    _configure(settings, None, webhook)
    assert alert("model_kept", "warning", "challenger not better", semester=SEMESTER)
    assert not alert("model_kept", "warning", "challenger not better", semester=SEMESTER)
    assert flush_alerts(5)
    assert len(webhook.bodies) == 1


def test_duplicates_are_suppressed_across_processes(
    settings: Settings, engine: Engine, webhook: Webhook, tmp_path: Path
) -> None:
    """Two processes (like two Dagster step processes) raise the same alert at once."""
    script = textwrap.dedent(
        f"""
        from gradewatch.monitoring.alerts import alert, configure_alerts, flush_alerts
        from gradewatch.settings import load_settings
        from gradewatch.storage import make_engine
        s = load_settings({{"GRADEWATCH_DATABASE_URL": {settings.database_url!r},
                            "GRADEWATCH_ALERT_WEBHOOK_URL": {webhook.url!r}}})
        configure_alerts(s, make_engine(s.database_url))
        print(alert("drift_detected", "warning", "drift in 5 features", semester={SEMESTER!r}))
        flush_alerts(10)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
        for _ in range(2)
    ]
    outputs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs == ["False", "True"]
    assert len(rows(engine)) == 1
    assert len(webhook.bodies) == 1


def test_webhook_body_suits_slack_and_teams(settings: Settings, webhook: Webhook) -> None:
    _configure(settings, None, webhook)
    alert("model_promoted", "warning", "model v8 replaces v7", semester=SEMESTER, model_version="v8")
    assert flush_alerts(5)
    (body,) = webhook.bodies
    assert webhook.headers[0]["Content-Type"] == "application/json"
    assert "model v8 replaces v7" in body["text"] and "model_promoted" in body["text"]  # Slack
    assert body["@type"] == "MessageCard" and body["summary"] and body["title"]  # Teams
    facts = {f["name"]: f["value"] for f in body["sections"][0]["facts"]}
    assert facts == {"semester": SEMESTER, "model_version": "v8"}
    assert body["gradewatch"]["kind"] == "model_promoted"
    assert body["gradewatch"]["context"]["model_version"] == "v8"
    assert body == json.loads(json.dumps(body))


@pytest.mark.parametrize(("status", "delay"), [(500, 0.0), (200, 5.0)], ids=["500", "hangs"])
def test_a_failing_webhook_never_fails_or_delays_the_caller(
    settings: Settings, engine: Engine, status: int, delay: float
) -> None:
    hook = Webhook(status=status, delay=delay)
    try:
        _configure(settings, engine, hook, webhook_timeout=0.3, webhook_attempts=3,
                   webhook_backoff=0.05)  # fmt: skip
        started = time.perf_counter()
        assert alert("run_failed", "error", "run 7 failed", semester=SEMESTER)
        assert time.perf_counter() - started < 0.5  # the POST happens off the caller's thread
        assert flush_alerts(10)
        assert len(hook.bodies) == 3  # retried
        (row,) = rows(engine)
        assert not row.delivered
    finally:
        hook.close()


def test_a_database_error_does_not_swallow_the_alert(
    settings: Settings, webhook: Webhook, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no alerts table
    _configure(settings, unmigrated, webhook)
    caplog.set_level(logging.INFO, logger="gradewatch.monitoring.alerts")
    assert alert("model_artifact_corrupt", "error", "sha256 mismatch for v3", model_version="v3")
    assert not alert("model_artifact_corrupt", "error", "sha256 mismatch for v3")
    assert flush_alerts(5)
    assert len(webhook.bodies) == 1
    assert any("database error" in r.getMessage() for r in caplog.records)
    assert any(getattr(r, "tags", None) == ["alert"] for r in caplog.records)
    unmigrated.dispose()


def test_context_is_kept_plain_and_never_holds_rows(settings: Settings, engine: Engine) -> None:
    _configure(settings, engine, None)
    frame = pd.DataFrame({"email": ["zelda@example.org"], "grade": [77.25]})
    alert(
        "data_quality", "warning", "12 rows rejected", semester=SEMESTER,
        rejected=np.int64(12), share=np.float64(0.05), nan=float("nan"), sample=frame,
        rules={"attendance_rate_range": 7, "duplicate_user_id": 5},
    )  # fmt: skip
    (row,) = rows(engine)
    assert row.context == {
        "semester": SEMESTER, "rejected": 12, "share": 0.05, "nan": None,
        "sample": "<DataFrame>", "rules": {"attendance_rate_range": 7, "duplicate_user_id": 5},
    }  # fmt: skip
    assert "zelda" not in json.dumps(webhook_payload(
        "data_quality", "warning", "x", row.context, settings))  # fmt: skip
