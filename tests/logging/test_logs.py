"""gradewatch.logs: JSON records to a (local, fake) Logstash, context fields, never blocking.

A plain TCP server on loopback stands in for Logstash's ``tcp`` input with the
``json_lines`` codec: it reads newline-separated JSON objects, exactly what that input reads.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from gradewatch.logs import (
    FIELD_TYPES,
    QUEUE_SIZE,
    configure_logging,
    dropped_records,
    log_context,
    log_stats,
    shutdown_logging,
)
from tests.support.logstash import (
    SEMESTER,
    StuckLogstash,
    TcpCollector,
    closed_port,
    log,
    logstash_settings,
    materialize_toy_asset,
    one_log_call,
    p99_rise_ms,
)


@pytest.fixture
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    shutdown_logging()
    root.setLevel(level)


@pytest.fixture
def collector(clean_logging: None) -> Iterator[TcpCollector]:
    server = TcpCollector()
    yield server
    shutdown_logging()
    server.close()




def test_records_reach_logstash_as_json_with_the_context_fields(collector: TcpCollector, tmp_path: Path) -> None:
    configure_logging(logstash_settings(tmp_path, collector.port), "cli")
    with log_context(request_id="req-1", run_id="run-1", semester=SEMESTER, model_version="v7"):
        log.info("scored %d students", 42, extra={"latency_ms": 12.5})
    (record,) = collector.wait_for(lambda r: r["message"] == "scored 42 students")
    assert record["service"] == "cli"
    assert record["environment"] == "test"
    assert record["level"] == "INFO"
    assert record["logger_name"] == "gradewatch.test_logs"
    assert (record["request_id"], record["run_id"]) == ("req-1", "run-1")
    assert (record["semester"], record["model_version"]) == (SEMESTER, "v7")
    assert record["latency_ms"] == 12.5
    assert record["@timestamp"].endswith("Z")
    assert set(record) <= set(FIELD_TYPES)


def test_context_ends_with_the_block_and_stays_in_its_thread(collector: TcpCollector, tmp_path: Path) -> None:
    configure_logging(logstash_settings(tmp_path, collector.port), "webapp")
    with log_context(request_id="inside"):
        other = threading.Thread(target=log.info, args=("other thread",))
        other.start()
        other.join()
    log.info("after the block")
    records = collector.wait_for(lambda r: r["message"] in {"other thread", "after the block"}, count=2)
    assert all("request_id" not in r for r in records)


def test_exceptions_carry_type_and_stack_trace(collector: TcpCollector, tmp_path: Path) -> None:
    configure_logging(logstash_settings(tmp_path, collector.port), "cli")
    try:
        raise KeyError("no such semester")
    except KeyError:
        log.exception("lookup failed")
    (record,) = collector.wait_for(lambda r: r["message"] == "lookup failed")
    assert record["level"] == "ERROR"
    assert record["error_type"] == "KeyError"
    assert "Traceback" in record["stack_trace"]


def test_dataframes_and_unknown_objects_never_reach_the_log(collector: TcpCollector, tmp_path: Path) -> None:
    configure_logging(logstash_settings(tmp_path, collector.port), "dagster")
    secret = ["Zelda Quintanilla", "zelda@example.org", "+41 79 555 01 23"]
    frame = pd.DataFrame({"name": secret, "grade": [71.5, 88.25, 93.75]})
    log.info("cleaned %s", frame)
    log.info(frame)
    log.info("series %s", frame["name"])
    log.info("with extras", extra={"frame": frame, "rows_received": frame, "semester": frame})
    collector.wait_for(lambda r: r["message"] == "with extras")
    text = "".join(collector.raw)
    for value in [*secret, "71.5", "88.25", "93.75"]:
        assert value not in text
    assert "<DataFrame shape=(3, 2)>" in text
    extras = collector.wait_for(lambda r: r["message"] == "with extras")[0]
    assert extras["extra_fields"] == {"frame": "<DataFrame>"}
    assert "rows_received" not in extras and "semester" not in extras  # wrong type: left out


def test_configure_logging_is_idempotent(collector: TcpCollector, tmp_path: Path) -> None:
    settings = logstash_settings(tmp_path, collector.port)
    before = len(logging.getLogger().handlers)
    configure_logging(settings, "webapp")
    once = len(logging.getLogger().handlers)
    configure_logging(settings, "webapp")
    assert len(logging.getLogger().handlers) == once > before
    log.info("only once")
    collector.wait_for(lambda r: r["message"] == "only once")
    time.sleep(0.3)  # a duplicate would arrive right behind the first
    assert sum(r["message"] == "only once" for r in collector.records) == 1


def test_console_output_is_readable_without_logstash(
    clean_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logstash_settings(tmp_path, None), "webapp")
    with log_context(request_id="abc123", semester=SEMESTER):
        log.warning("upload rejected")
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "upload rejected" in x)
    assert "WARNING" in line and "gradewatch.test_logs" in line and "[webapp]" in line
    assert "request_id=abc123" in line and f"semester={SEMESTER}" in line
    assert not line.lstrip().startswith("{")


@pytest.mark.parametrize("failure", ["never_reads", "port_closed"])
def test_unresponsive_logstash_does_not_slow_logging_calls(
    collector: TcpCollector, tmp_path: Path, failure: str
) -> None:
    baseline, degraded = p99_rise_ms(one_log_call, failure, tmp_path, collector.port, "cli")
    assert degraded - baseline < 10.0, f"p99 {baseline:.3f} ms -> {degraded:.3f} ms"


def test_a_full_queue_drops_and_counts_instead_of_blocking(clean_logging: None, tmp_path: Path) -> None:
    stuck = StuckLogstash()
    try:
        configure_logging(logstash_settings(tmp_path, stuck.port), "webapp")
        before = log_stats()["queue_full"]
        started = time.perf_counter()
        for i in range(QUEUE_SIZE * 3):
            log.info("burst %d %s", i, "y" * 200)
            if i % 1000 == 0:
                assert log_stats()["queued"] <= QUEUE_SIZE
        elapsed = time.perf_counter() - started
        assert log_stats()["queue_full"] > before, log_stats()  # dropped and counted, neither kept nor waited
        assert elapsed < 30  # no call waited for the peer (each would wait 1 s)
    finally:
        shutdown_logging(timeout=0.5)
        stuck.close()


def test_dropped_records_are_reported_when_logstash_comes_back(clean_logging: None, tmp_path: Path) -> None:
    port = closed_port()
    configure_logging(logstash_settings(tmp_path, port), "webapp")
    before = dropped_records()
    for i in range(3):
        log.info("lost %d", i)
    deadline = time.monotonic() + 5
    while dropped_records() < before + 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dropped_records() >= before + 3
    server = TcpCollector(port)
    try:
        deadline = time.monotonic() + 10  # python's SocketHandler retries after 1 s, then 2 s...
        while not any("dropped_records" in r for r in server.records):
            assert time.monotonic() < deadline, "no report of the dropped records"
            log.info("probe")
            time.sleep(0.2)
        (report,) = server.wait_for(lambda r: "dropped_records" in r)
        assert report["level"] == "WARNING"
        assert report["dropped_records"] >= 3
        assert report["service"] == "webapp"
    finally:
        shutdown_logging()
        server.close()


def test_dagster_event_logs_reach_logstash_through_python_logs(collector: TcpCollector, tmp_path: Path) -> None:
    configure_logging(logstash_settings(tmp_path, collector.port), "dagster")
    run_id = materialize_toy_asset()

    def of_run(r: dict[str, Any]) -> bool:
        return r.get("run_id") == run_id

    collector.wait_for(lambda r: of_run(r) and r.get("dagster_event_type") == "RUN_SUCCESS")
    events = {r.get("dagster_event_type") for r in collector.records if of_run(r)}
    assert {"ASSET_MATERIALIZATION", "STEP_SUCCESS"} <= events
    (mine,) = collector.wait_for(lambda r: r["message"] == "scoring the semester")
    assert (mine["run_id"], mine["semester"], mine["service"]) == (run_id, SEMESTER, "dagster")
    assert mine["step_key"] == "toy_predictions" and mine["job_name"]
    managed = [r for r in collector.records if r["message"] == "predicted 12 students"]
    assert len(managed) == 1, "a managed logger's record must be shipped once, not twice"
    assert (managed[0]["run_id"], managed[0]["model_version"]) == (run_id, "v3")


def test_a_real_asset_materialization_reaches_logstash(
    collector: TcpCollector, tmp_path: Path, engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GradeWatch's own cleaned_features asset, with the python_logs of the shipped dagster.yaml."""
    import yaml

    from gradewatch_assets.definitions import ASSETS
    from gradewatch_assets.resources import GradewatchResource
    from tests.support.semesters import S1, semester_frame, upload

    monkeypatch.setenv("LOGSTASH_HOST", "127.0.0.1")
    monkeypatch.setenv("LOGSTASH_PORT", str(collector.port))
    monkeypatch.setenv("GRADEWATCH_ENVIRONMENT", "test")
    upload(engine, S1, semester_frame(S1, 40), grades=False)
    shipped = yaml.safe_load((Path(__file__).parents[2] / "dagster_home" / "dagster.yaml").read_text())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Handling yaml-defined logging configuration")
        with dg.DagsterInstance.ephemeral(settings={"python_logs": shipped["python_logs"]}) as instance:
            instance.add_dynamic_partitions("semester", [S1.key])
            result = dg.materialize(ASSETS, selection=["student_reports", "cleaned_features"], instance=instance,
                                    partition_key=S1.key,
                                    resources={"gradewatch": GradewatchResource(database_url=database_url)})
    assert result.success
    (cleaned,) = collector.wait_for(lambda r: r["message"].startswith(f"cleaned semester {S1.key}"))
    assert (cleaned["run_id"], cleaned["semester"], cleaned["service"]) == (result.run_id, S1.key, "dagster")
    assert cleaned["logger_name"] == "gradewatch.pipeline"
    collector.wait_for(lambda r: r.get("run_id") == result.run_id and r.get("dagster_event_type") == "RUN_SUCCESS")


def test_the_production_instance_ships_logs_the_same_way() -> None:
    """The containers run dagster.production.yaml: its python_logs must be the tested ones."""
    import yaml

    home = Path(__file__).parents[2] / "dagster_home"
    local, production = (yaml.safe_load((home / name).read_text())
                         for name in ("dagster.yaml", "dagster.production.yaml"))
    assert production["python_logs"] == local["python_logs"]
    assert production["python_logs"]["dagster_handler_config"]["handlers"]["gradewatch"]["class"] == (
        "gradewatch_assets.log_shipping.DagsterHandler")
