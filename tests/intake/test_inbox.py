"""The CSV inbox (csv_inbox_sensor) and the end-of-semester schedule, on a real Dagster instance,
against SQLite and PostgreSQL application databases."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from gradewatch.intake.inbox import scan_inbox
from gradewatch.storage.tables import alerts, student_reports, uploads
from gradewatch_assets.definitions import build_definitions
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.schedules import end_of_semester
from gradewatch_assets.sensors import csv_inbox_sensor, final_grades_sensor
from tests.support.semesters import S1, S2, semester_frame, upload, upload_grades

PII_NAMES = ["Zelda Quintanilla", "Bartholomew Ng", "Ottoline Vries"]


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("GRADEWATCH_INBOX_DIR", str(folder))
    return folder




class Sensor:
    """Ticks a sensor the way the daemon does, keeping its cursor between ticks."""

    def __init__(self, sensor, instance, resources) -> None:
        self.sensor, self.instance, self.resources, self.cursor = sensor, instance, resources, None

    def tick(self) -> dg.SensorResult:
        with dg.build_sensor_context(instance=self.instance, resources=self.resources,
                                     cursor=self.cursor) as context:
            result = self.sensor(context)
        self.cursor = result.cursor
        return result


def export(n: int = 30, *, pii: bool = True) -> bytes:
    frame = semester_frame(S1, n).drop(columns=["final_grade"])
    if pii:
        frame.insert(1, "Name", [PII_NAMES[i % 3] + f" {i}" for i in range(n)])
    return frame.to_csv(index=False).encode()


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(student_reports)).scalar_one()


def audit_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(uploads)).all()


def test_drop_and_ingest(engine, inbox, instance, resources) -> None:
    content = export()
    (inbox / f"{S1.key}_export.csv").write_bytes(content)
    sensor = Sensor(csv_inbox_sensor, instance, resources)
    sensor.tick()  # first look: the file might still be growing
    assert stored(engine) == 0
    sensor.tick()  # unchanged since the last look: complete, ingested
    assert stored(engine) == 30
    assert not (inbox / f"{S1.key}_export.csv").exists()
    (receipt,) = (inbox / "processed").glob("*.receipt.json")
    text = receipt.read_text()
    body = json.loads(text)
    assert (body["status"], body["inserted"], body["dropped_columns"]) == ("ingested", 30, ["Name"])
    assert not any(name.split()[0] in text for name in PII_NAMES)
    (audit,) = audit_rows(engine)
    assert (audit.source, audit.rows_inserted) == ("inbox", 30)
    assert audit.content_sha256 == body["sha256"]
    assert list((inbox / "processed").iterdir()) == [receipt]  # the original is not kept


def test_half_copied_file_waits_until_stable(engine, inbox, instance, resources) -> None:
    content = export(40)
    target = inbox / f"{S1.key}.csv"
    target.write_bytes(content[: len(content) // 2])
    (inbox / f"{S1.key}_other.csv.part").write_bytes(content)  # being copied under a temporary name
    sensor = Sensor(csv_inbox_sensor, instance, resources)
    sensor.tick()
    with target.open("ab") as handle:  # the copy goes on between two ticks
        handle.write(content[len(content) // 2:])
    sensor.tick()
    assert stored(engine) == 0
    sensor.tick()
    assert stored(engine) == 40
    assert (inbox / f"{S1.key}_other.csv.part").exists()


def test_same_content_dropped_twice_is_ingested_once(engine, inbox, instance, resources) -> None:
    content = export()
    sensor = Sensor(csv_inbox_sensor, instance, resources)
    (inbox / f"{S1.key}_monday.csv").write_bytes(content)
    sensor.tick()
    sensor.tick()
    (inbox / f"{S1.key}_tuesday.csv").write_bytes(content)
    sensor.tick()
    sensor.tick()
    assert len(audit_rows(engine)) == 1
    assert not (inbox / f"{S1.key}_tuesday.csv").exists()
    statuses = sorted(json.loads(p.read_text())["status"] for p in (inbox / "processed").glob("*.json"))
    assert statuses == ["duplicate", "ingested"]


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("students.csv", None, "does not say which semester"),
    (f"{S1.key}.csv", b"user_id,gender\n1,female\n", "missing the required column(s)"),
    ("2026-02-30_2026-06-30.csv", None, "impossible date"),
])
def test_refused_files_go_to_rejected_with_the_reason(engine, inbox, instance, resources, name, content,
                                                      fragment) -> None:
    (inbox / name).write_bytes(content or export())
    sensor = Sensor(csv_inbox_sensor, instance, resources)
    sensor.tick()
    sensor.tick()
    assert stored(engine) == 0 and audit_rows(engine) == []
    assert not (inbox / name).exists()
    (error_file,) = (inbox / "rejected").glob("*.error.json")
    assert fragment in json.loads(error_file.read_text())["error"]
    assert [p for p in (inbox / "rejected").iterdir() if p.name.endswith(name)]


def test_grades_by_folder_lead_to_the_evaluation_run(engine, inbox, instance, resources) -> None:
    frame = semester_frame(S1, 30)
    upload(engine, S1, frame, grades=False)
    folder = inbox / S1.key
    folder.mkdir()
    (folder / "final_grades.csv").write_bytes(frame[["user_id", "final_grade"]].to_csv(index=False).encode())
    grades = Sensor(final_grades_sensor, instance, resources)
    assert grades.tick().run_requests == []
    sensor = Sensor(csv_inbox_sensor, instance, resources)
    sensor.tick()
    sensor.tick()
    assert not folder.exists()  # emptied and removed
    (request,) = grades.tick().run_requests
    assert request.partition_key == S1.key


def test_crash_between_ingest_and_deletion_loses_nothing_and_ingests_once(engine, inbox, database_url) -> None:
    path = inbox / f"{S1.key}.csv"
    path.write_bytes(export())
    snapshot = scan_inbox(engine, inbox, {}).snapshot

    def crash(_path: Path) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        scan_inbox(engine, inbox, snapshot, after_ingest=crash)
    assert path.exists()  # the file is not lost
    assert stored(engine) == 30
    outcome = scan_inbox(engine, inbox, scan_inbox(engine, inbox, {}).snapshot)
    assert outcome.duplicates == [path.name] and outcome.ingested == []
    assert len(audit_rows(engine)) == 1
    assert not path.exists()


@pytest.mark.parametrize("keep", ["1", "0"])
def test_keep_originals_setting_decides_through_the_sensor(engine, inbox, instance, resources, monkeypatch,
                                                           keep) -> None:
    monkeypatch.setenv("GRADEWATCH_INBOX_KEEP_ORIGINALS", keep)
    (inbox / f"{S1.key}.csv").write_bytes(export())
    sensor = Sensor(csv_inbox_sensor, instance, resources)
    sensor.tick()  # first look: the file must stay the same until the next one
    sensor.tick()
    assert stored(engine) == 30
    processed = inbox / "processed"
    kept = [p for p in processed.iterdir() if p.name.endswith(f"{S1.key}.csv")] if processed.is_dir() else []
    if keep == "1":
        assert len(kept) == 1 and kept[0].read_bytes() == export()
    else:
        assert kept == [] and not (inbox / f"{S1.key}.csv").exists()


def test_no_inbox_configured_skips(instance, database_url, monkeypatch) -> None:
    monkeypatch.delenv("GRADEWATCH_INBOX_DIR", raising=False)
    result = Sensor(csv_inbox_sensor, instance, {"gradewatch": GradewatchResource(database_url=database_url)}).tick()
    assert "GRADEWATCH_INBOX_DIR is not set" in result.skip_reason.skip_message


def _end_of_semester_tick(instance, resources, today):
    when = datetime.combine(today, datetime.min.time())
    with dg.build_schedule_context(instance=instance, resources=resources,
                                   scheduled_execution_time=when) as context:
        return list(end_of_semester(context))


def _launch(instance, resources, request: dg.RunRequest) -> bool:
    """Run the evaluation ``request`` asks for, tagged as the daemon would; True on success."""
    job = build_definitions(resources["gradewatch"]).resolve_job_def("evaluation_job")
    return job.execute_in_process(partition_key=request.partition_key, instance=instance,
                                  tags={**request.tags, "dagster/run_key": request.run_key}).success


def test_grades_already_evaluated_by_the_sensor_are_not_evaluated_again(engine, instance, resources) -> None:
    frame = semester_frame(S1, 40)
    upload(engine, S1, frame, grades=False)
    upload_grades(engine, S1, frame)
    instance.add_dynamic_partitions("semester", [S1.key])
    before = _end_of_semester_tick(instance, resources, S1.end + timedelta(days=15))
    assert [r.partition_key for r in before] == [S1.key]  # not evaluated yet: the deadline runs it
    with engine.connect() as conn:  # every grade is in: nothing is missing
        assert conn.execute(sa.select(alerts.c.kind)).all() == []
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        (request,) = final_grades_sensor(context).run_requests
    assert _launch(instance, resources, request)
    assert _end_of_semester_tick(instance, resources, S1.end + timedelta(days=15)) == []


def test_past_end_and_grace_with_half_the_grades(engine, instance, resources, caplog) -> None:
    frame = semester_frame(S1, 40)
    upload(engine, S1, frame, grades=False)
    upload(engine, S2, semester_frame(S2, 10), grades=False)  # still running: not evaluated
    upload_grades(engine, S1, frame.head(20))
    within_grace = _end_of_semester_tick(instance, resources, S1.end + timedelta(days=10))
    assert within_grace == []
    with caplog.at_level(logging.WARNING):
        (request,) = _end_of_semester_tick(instance, resources, S1.end + timedelta(days=15))
    assert request.partition_key == S1.key
    assert "coverage 50%" in request.tags["gradewatch/reason"]
    (record,) = [r for r in caplog.records if getattr(r, "alert_kind", None) == "final_grades_missing"]
    assert S1.key in record.getMessage() and "50%" in record.getMessage()
    with engine.connect() as conn:
        assert conn.execute(sa.select(alerts.c.kind, alerts.c.semester)).all() == [("final_grades_missing", S1.key)]
    # The daemon launches the requested run; the next day, with nothing new, nothing happens.
    instance.add_dynamic_partitions("semester", [S1.key])
    assert _launch(instance, resources, request)
    assert _end_of_semester_tick(instance, resources, S1.end + timedelta(days=16)) == []
