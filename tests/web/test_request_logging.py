"""webapp.request_logging: one record per request, X-Request-Id, no row values, no blocking.

Runs the real app (``create_app``) on SQLite and PostgreSQL with logging shipped to a
local TCP listener standing in for Logstash.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gradewatch.logs import configure_logging, shutdown_logging
from tests.support.csvdata import PII, student_rows, to_csv, upload
from tests.support.logstash import TcpCollector, logstash_settings, p99_rise_ms
from webapp.request_logging import REQUEST_ID_HEADER, init_request_logging


def requests_of(collector: TcpCollector, path: str) -> list[dict[str, Any]]:
    return [r for r in collector.records if r.get("logger_name") == "webapp.request"
            and r.get("path") == path]  # fmt: skip


@pytest.fixture
def logged_app(app: Flask) -> Flask:
    init_request_logging(app)  # a no-op once create_app() does it itself

    @app.get("/test-only/boom")
    def boom() -> str:
        raise RuntimeError("the view failed")

    return app


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[TcpCollector]:
    root = logging.getLogger()
    level = root.level
    server = TcpCollector()
    configure_logging(logstash_settings(tmp_path, server.port), "webapp")
    yield server
    shutdown_logging()
    root.setLevel(level)
    server.close()


def test_a_request_is_logged_with_method_path_status_latency_and_id(
    logged_app: Flask, client: FlaskClient, collector: TcpCollector
) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    request_id = response.headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (record,) = collector.wait_for(lambda r: r.get("path") == "/health")
    assert record["logger_name"] == "webapp.request"
    assert (record["http_method"], record["status"], record["level"]) == ("GET", 200, "INFO")
    assert record["request_id"] == request_id
    assert 0 < record["latency_ms"] < 60_000
    assert record["service"] == "webapp"
    assert "token_name" not in record


def test_a_sane_request_id_is_honoured_and_a_forged_one_replaced(
    logged_app: Flask, client: FlaskClient, collector: TcpCollector
) -> None:
    kept = client.get("/health", headers={REQUEST_ID_HEADER: "proxy-7f3a.42"})
    assert kept.headers[REQUEST_ID_HEADER] == "proxy-7f3a.42"
    forged = '"} {"level": "ERROR'
    replaced = client.get("/health", headers={REQUEST_ID_HEADER: forged})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers[REQUEST_ID_HEADER])
    ids = {r["request_id"] for r in collector.wait_for(lambda r: r.get("path") == "/health", count=2)}
    assert ids == {"proxy-7f3a.42", replaced.headers[REQUEST_ID_HEADER]}


def test_an_upload_is_logged_with_token_name_and_row_counts_never_the_token(
    logged_app: Flask, client: FlaskClient, collector: TcpCollector, upload_token: str
) -> None:
    response = upload(client, upload_token, to_csv(student_rows(25)))
    assert response.status_code == 200, response.json
    request_id = response.headers[REQUEST_ID_HEADER]
    (record,) = collector.wait_for(lambda r: r.get("path") == "/update-csv")
    assert (record["http_method"], record["status"]) == ("POST", 200)
    assert record["token_name"] == "registrar"
    assert (record["rows_received"], record["rows_inserted"], record["rows_rejected"]) == (25, 25, 0)
    assert record["semester"] == "2026-01-12_2026-06-30"
    # Everything logged while the request ran carries its id (the view's own record too).
    inside = collector.wait_for(lambda r: r.get("request_id") == request_id, count=2)
    assert {r["logger_name"] for r in inside} >= {"webapp.request", "webapp.api"}
    assert upload_token not in "".join(collector.raw)


def test_no_row_value_reaches_any_log_during_a_pii_upload(
    logged_app: Flask,
    client: FlaskClient,
    collector: TcpCollector,
    upload_token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rows = [{**r, **{k: f"{v} {i}" for k, v in PII.items()}} for i, r in enumerate(student_rows(20))]
    response = upload(client, upload_token, to_csv(rows))
    assert response.status_code == 200, response.json
    collector.wait_for(lambda r: r.get("path") == "/update-csv")
    shipped = "".join(collector.raw)
    captured = "\n".join(r.getMessage() + json.dumps({k: str(v) for k, v in vars(r).items()}) for r in caplog.records)
    for text in (shipped, captured):
        for row in rows:
            for value in (row["user_id"], *(row[k] for k in PII)):
                assert str(value) not in text
        for fragment in ("Quintanilla", "example.org", "555 01 23", "Lilas", "2009-04-17"):
            assert fragment not in text


def test_rejected_and_failed_requests_are_logged_at_warning_and_error(
    logged_app: Flask, client: FlaskClient, collector: TcpCollector
) -> None:
    denied = client.post("/update-csv", headers={"Authorization": "Bearer gw_not-a-real-token"})
    assert denied.status_code == 401 and denied.headers[REQUEST_ID_HEADER]
    failed = client.get("/test-only/boom")
    assert failed.status_code == 500 and failed.headers[REQUEST_ID_HEADER]
    (rejected,) = collector.wait_for(lambda r: r.get("path") == "/update-csv")
    assert (rejected["status"], rejected["level"]) == (401, "WARNING")
    assert "token_name" not in rejected
    assert "gw_not-a-real-token" not in "".join(collector.raw)
    (boom,) = collector.wait_for(lambda r: r.get("path") == "/test-only/boom")
    assert (boom["status"], boom["level"]) == (500, "ERROR")


def test_an_exception_escaping_the_error_handlers_is_still_logged_once(
    app: Flask, client: FlaskClient, collector: TcpCollector
) -> None:
    init_request_logging(app)
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.get("/test-only/escape")
    def escape() -> str:
        raise KeyboardInterrupt  # not an Exception: no error handler catches it

    with pytest.raises(KeyboardInterrupt):
        client.get("/test-only/escape")
    collector.wait_for(lambda r: r.get("path") == "/test-only/escape")
    assert [r["status"] for r in requests_of(collector, "/test-only/escape")] == [500]


@pytest.mark.parametrize("failure", ["never_reads", "port_closed"])
def test_requests_stay_fast_when_logstash_is_unresponsive(
    logged_app: Flask, client: FlaskClient, collector: TcpCollector, tmp_path: Path, failure: str
) -> None:
    def one_request() -> None:
        assert client.get("/health").status_code == 200  # every request still succeeds

    baseline, degraded = p99_rise_ms(one_request, failure, tmp_path, collector.port, "webapp")
    assert degraded - baseline < 10.0, f"p99 {baseline:.2f} ms -> {degraded:.2f} ms"
