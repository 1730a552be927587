"""elk/: the Kibana saved objects, the index template, the Logstash pipeline, the import step.

No Elasticsearch, Logstash or Kibana runs here: the files are parsed, cross-checked with
each other and with the records the app really emits, and the import script is run
against a local stand-in for Kibana's HTTP API.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from gradewatch.logs import FIELD_TYPES, configure_logging, shutdown_logging
from gradewatch.monitoring.alerts import ALERT_TAG, alert
from gradewatch.settings import Settings, load_settings
from tests.support.csvdata import student_rows, to_csv, upload
from tests.support.lifecycle import run_lifecycle
from tests.support.logstash import TcpCollector, closed_port, logstash_settings, materialize_toy_asset
from webapp.request_logging import init_request_logging

ELK = Path(__file__).resolve().parents[2] / "elk"
NDJSON = ELK / "kibana" / "saved_objects.ndjson"
TEMPLATE = ELK / "elasticsearch" / "index-template.json"
PIPELINE = ELK / "logstash" / "pipeline" / "gradewatch.conf"
IMPORT_SH = ELK / "kibana" / "import.sh"

KQL_FIELD = re.compile(r"([A-Za-z_@][\w.@]*)\s*:")
KQL_LITERAL = re.compile(r"([A-Za-z_@][\w.@]*)\s*:\s*\"([^\"]*)\"")


def saved_objects() -> list[dict[str, Any]]:
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    assert lines and all(line.strip() for line in lines), "no blank lines in an import file"
    return [json.loads(line) for line in lines]


def by_title(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["attributes"]["title"]: o for o in objects if o["type"] == kind}


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_every_line_parses_and_every_reference_resolves_inside_the_file() -> None:
    objects = saved_objects()
    keys = [(o["type"], o["id"]) for o in objects]
    assert len(keys) == len(set(keys)), "duplicate saved object"
    for obj in objects:
        names = {ref["name"] for ref in obj["references"]}
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in keys, f"{obj['id']} -> missing {ref}"
        attributes = obj["attributes"]
        if "kibanaSavedObjectMeta" in attributes:
            source = search_source(obj)
            assert "index" not in source, "an index must be a reference, not an inline id"
            if "indexRefName" in source:
                assert source["indexRefName"] in names
        if "savedSearchRefName" in attributes:
            assert attributes["savedSearchRefName"] in names
        if obj["type"] == "visualization":
            assert json.loads(attributes["visState"])["title"] == attributes["title"]
        if obj["type"] == "dashboard":
            panels = json.loads(attributes["panelsJSON"])
            assert {p["panelRefName"] for p in panels} == names
            assert len({p["panelIndex"] for p in panels}) == len(panels)


def test_the_objects_the_issue_asks_for_are_there() -> None:
    objects = saved_objects()
    views = {o["attributes"]["title"]: o for o in objects if o["type"] == "index-pattern"}
    assert set(views) == {"gradewatch-logs-*", "gradewatch-alerts"}
    assert all(v["attributes"]["timeFieldName"] == "@timestamp" for v in views.values())
    assert {"Alerts", "Errors", "Uploads"} <= set(by_title(objects, "search"))
    dashboard = by_title(objects, "dashboard")["GradeWatch operations"]
    on_dashboard = {(r["type"], r["id"]) for r in dashboard["references"]}
    aggs = {
        o["id"]: json.loads(o["attributes"]["visState"])["aggs"]
        for o in objects
        if o["type"] == "visualization" and ("visualization", o["id"]) in on_dashboard
    }

    def has(agg_type: str, field: str | None = None, **params: Any) -> set[str]:
        return {
            vid for vid, vis_aggs in aggs.items()
            if any(a["type"] == agg_type and (field is None or a["params"].get("field") == field)
                   and all(a["params"].get(k) == v for k, v in params.items()) for a in vis_aggs)
        }  # fmt: skip

    assert has("terms", "alert_kind") & has("date_histogram")  # alerts over time by kind
    assert has("sum", "rows_received") & has("count") & has("date_histogram", interval="d")
    assert has("percentiles", "latency_ms") & has("date_histogram")  # latency percentiles
    assert has("terms", "model_version") & has("date_histogram")  # model version over time
    errors = by_title(objects, "search")["Errors"]["id"]
    error_counts = [o for o in objects if o["type"] == "visualization"
                    and any(r["id"] == errors for r in o["references"])]  # fmt: skip
    assert any(("visualization", o["id"]) in on_dashboard for o in error_counts)


def _dashboard_aggs(objects: list[dict[str, Any]], title: str) -> dict[str, tuple[dict, str]]:
    """The visualizations of a dashboard by title: their visState and their query."""
    dashboard = by_title(objects, "dashboard")[title]
    ids = {r["id"] for r in dashboard["references"] if r["type"] == "visualization"}
    return {o["attributes"]["title"]: (json.loads(o["attributes"]["visState"]), search_source(o)["query"]["query"])
            for o in objects if o["type"] == "visualization" and o["id"] in ids}


def _fields(state: dict) -> set[str]:
    return {a["params"].get("field") for a in state["aggs"]} - {None}


def test_the_data_quality_and_drift_dashboards_the_issue_asks_for() -> None:
    objects = saved_objects()
    quality = _dashboard_aggs(objects, "GradeWatch data quality")
    rows = next(s for s, _ in quality.values() if {"rows_received", "rows_rejected"} <= _fields(s))
    assert {"rows_imputed", "rows_excluded", "@timestamp"} <= _fields(rows)
    assert any(any(f.startswith("upload_errors.") for f in _fields(s)) for s, _ in quality.values())
    assert any(any(f.startswith("quality_rules.") for f in _fields(s)) for s, _ in quality.values())
    assert any("upload_source" in _fields(s) for s, _ in quality.values())
    share = next(s for s, _ in quality.values() if "invalid_share" in _fields(s) and s["type"] == "line")
    assert share["params"]["thresholdLine"] | {"color": None} == {
        "show": True, "value": 0.2, "width": 2, "style": "dashed", "color": None}
    gauge = next(s for s, _ in quality.values() if s["type"] == "gauge")
    assert _fields(gauge) == {"invalid_share"}
    assert gauge["params"]["gauge"]["colorsRange"] == [{"from": 0, "to": 0.05}, {"from": 0.05, "to": 0.2},
                                                       {"from": 0.2, "to": 1}]
    drift = _dashboard_aggs(objects, "GradeWatch drift and predictions")
    effect = next(s for s, q in drift.values()
                  if "drift_summary" in q and s["params"].get("thresholdLine", {}).get("show"))
    assert {f"drift_effect_vs_threshold.{f}" for f in ("attendance_rate", "gender")} <= _fields(effect)
    assert "semester" in _fields(effect) and effect["params"]["thresholdLine"]["value"] == 1
    assert any("at_risk_share" in _fields(s) and "@timestamp" in _fields(s) for s, _ in drift.values())
    assert any("model_version" in _fields(s) and "model_promoted" in q for s, q in drift.values())
    assert any({"estimated_mae", "mae"} <= _fields(s) for s, _ in drift.values())


def test_the_index_template_maps_exactly_the_fields_the_app_can_emit() -> None:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    mappings = template["template"]["mappings"]
    assert mappings["dynamic"] is False  # an unknown field cannot change the mapping
    properties = mappings["properties"]
    assert set(properties) == set(FIELD_TYPES)
    assert {name: p["type"] for name, p in properties.items()} == FIELD_TYPES
    assert set(template["index_patterns"]) == {"gradewatch-logs-*", "gradewatch-alerts"}
    assert template["template"]["settings"]["index"]["number_of_replicas"] == 0  # one node


def test_the_logstash_pipeline_matches_the_app_and_the_data_views() -> None:
    conf = PIPELINE.read_text(encoding="utf-8")
    tcp = re.search(r"^input \{\s*tcp \{(.*?)^\}", conf, re.S | re.M)  # the input block
    assert tcp
    assert "codec => json_lines" in tcp.group(1)
    port = re.search(r'port => "\$\{LOGSTASH_TCP_PORT:(\d+)\}"', tcp.group(1))
    assert port and int(port.group(1)) == load_settings({}).logstash_port
    indexes = re.findall(r'index => "([^"]+)"', conf)
    assert indexes == ["gradewatch-logs-%{+YYYY.MM.dd}", "gradewatch-alerts"]
    assert f'if "{ALERT_TAG}" in [tags]' in conf
    assert conf.count('template => "/usr/share/logstash/templates/gradewatch.json"') == 2
    assert "gradewatch.json" in (ELK / "README.md").read_text(encoding="utf-8")


def used_fields(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Fields used by the searches and visualizations, keyed by the data view they read."""
    view_of = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    search_view: dict[str, str] = {}
    used: dict[str, set[str]] = {title: {"@timestamp"} for title in view_of.values()}
    ordered = sorted(objects, key=lambda o: o["type"] != "search")  # searches first
    for obj in ordered:
        if obj["type"] not in {"search", "visualization"}:
            continue
        refs = {r["name"]: r["id"] for r in obj["references"]}
        source = search_source(obj)
        if "indexRefName" in source:
            view = view_of[refs[source["indexRefName"]]]
        else:
            view = search_view[refs[obj["attributes"]["savedSearchRefName"]]]
        fields = set(KQL_FIELD.findall(source["query"]["query"]))
        if obj["type"] == "search":
            search_view[obj["id"]] = view
            fields |= set(obj["attributes"]["columns"])
            fields |= {field for field, _ in obj["attributes"]["sort"]}
        else:
            aggs = json.loads(obj["attributes"]["visState"])["aggs"]
            fields |= {a["params"]["field"] for a in aggs if "field" in a["params"]}
        used[view] |= fields
    return used


def literals(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    found = set()
    for obj in objects:
        if "kibanaSavedObjectMeta" in obj["attributes"]:
            found |= set(KQL_LITERAL.findall(search_source(obj)["query"]["query"]))
    return found


@pytest.fixture
def emitted(
    app: Flask, client: FlaskClient, upload_token: str, tmp_path: Path, engine: Engine, settings: Settings
) -> Iterator[list[dict[str, Any]]]:
    """What the app sends to Logstash for an upload, a request, an alert, an error, a run, and a
    semester's lifecycle through the core (every summary event of the dashboards)."""
    init_request_logging(app)
    root_level = logging.getLogger().level
    collector = TcpCollector()
    configure_logging(logstash_settings(tmp_path, collector.port), "webapp")
    try:
        assert upload(client, upload_token, to_csv(student_rows(5))).status_code == 200
        assert client.get("/health").status_code == 200
        alert("model_promoted", "warning", "v9 replaces v8", semester="2026-01-12_2026-06-30",
              model_version="v9")  # fmt: skip
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("gradewatch.test_elk").exception("a failure")
        run_id = materialize_toy_asset()
        run_lifecycle(engine, settings)
        collector.wait_for(lambda r: r.get("event") == "performance_summary")
        collector.wait_for(lambda r: r["message"] == "a failure")
        collector.wait_for(lambda r: r.get("run_id") == run_id, count=3)
        collector.wait_for(lambda r: r.get("logger_name") == "webapp.request", count=2)
        yield collector.records
    finally:
        shutdown_logging()
        logging.getLogger().setLevel(root_level)
        collector.close()


def test_dashboard_and_search_fields_are_fields_the_app_emits(
    emitted: list[dict[str, Any]],
) -> None:
    objects = saved_objects()
    used = used_fields(objects)
    all_fields = set().union(*(set(r) for r in emitted))
    alert_fields = set().union(*(set(r) for r in emitted if ALERT_TAG in r.get("tags", [])))
    assert used["gradewatch-logs-*"] <= all_fields, used["gradewatch-logs-*"] - all_fields
    assert used["gradewatch-alerts"] <= alert_fields, used["gradewatch-alerts"] - alert_fields
    assert all_fields <= set(FIELD_TYPES), "emitted but not mapped: " + str(all_fields - set(FIELD_TYPES))
    levels = set(logging.getLevelNamesMapping())
    for field, value in literals(objects):  # e.g. path : "/update-csv"
        seen: set[str] = set()
        for record in emitted:
            found = record.get(field)
            seen |= {str(v) for v in found} if isinstance(found, list) else {str(found)}
        assert value in seen or (field == "level" and value in levels), (field, value, seen)


def _fake_kibana(import_answer: dict[str, Any]) -> tuple[ThreadingHTTPServer, list[dict]]:
    calls: list[dict[str, Any]] = []
    status_answers = iter([503, 503])  # not ready twice, then ready

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = next(status_answers, 200) if self.path == "/api/status" else 404
            calls.append({"method": "GET", "path": self.path, "code": code})
            self._answer(code, {"status": {"overall": {"level": "available"}}})

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length)
            boundary = self.headers["Content-Type"].split("boundary=", 1)[1].strip('"').encode()
            part = body.split(b"--" + boundary)[1]
            content = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
            calls.append({"method": "POST", "path": self.path, "xsrf": self.headers["kbn-xsrf"],
                          "file": content, "head": part.split(b"\r\n\r\n", 1)[0]})  # fmt: skip
            self._answer(200, import_answer)

        def _answer(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, calls


def _run_import(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(IMPORT_SH)],
        env={"PATH": "/usr/bin:/bin", "KIBANA_URL": url, "KIBANA_POLL_SECONDS": "1", **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_import_script_waits_for_kibana_and_imports_the_file() -> None:
    server, calls = _fake_kibana({"success": True, "successCount": len(saved_objects())})
    try:
        done = _run_import(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert [c["code"] for c in calls if c["method"] == "GET"] == [503, 503, 200]
    (post,) = [c for c in calls if c["method"] == "POST"]
    assert post["path"] == "/api/saved_objects/_import?overwrite=true"
    assert post["xsrf"] == "true"
    assert b'filename="saved_objects.ndjson"' in post["head"]
    assert post["file"] == NDJSON.read_bytes()


def test_the_import_script_fails_loudly() -> None:
    server, _ = _fake_kibana({"success": False, "errors": [{"id": "x", "error": {"type": "x"}}]})
    try:
        refused = _run_import(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert refused.returncode == 1 and "import failed" in refused.stderr
    absent = _run_import(f"http://127.0.0.1:{closed_port()}", KIBANA_WAIT_SECONDS="2")
    assert absent.returncode == 1 and "not ready" in absent.stderr
