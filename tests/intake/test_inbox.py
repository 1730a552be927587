"""The CSV inbox (csv_inbox_sensor claims files, inbox_ingest_job ingests each one in its own
run) and the end-of-semester schedule, on a real Dagster instance, against SQLite and PostgreSQL
application databases."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from gradewatch.intake.inbox import WORKING, ingest_claim, look_at_inbox
from gradewatch.storage.tables import alerts, student_reports, uploads
from gradewatch_assets.definitions import build_definitions
from gradewatch_assets.inbox import csv_inbox_sensor
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.schedules import end_of_semester
from gradewatch_assets.sensors import final_grades_sensor
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


class Inbox(Sensor):
    """csv_inbox_sensor, and the daemon launching the runs it requests."""

    def __init__(self, instance, resources) -> None:
        super().__init__(csv_inbox_sensor, instance, resources)
        self.job = build_definitions(resources["gradewatch"]).resolve_job_def("inbox_ingest_job")

    def run(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        return self.job.execute_in_process(run_config=request.run_config, instance=self.instance,
                                           tags={**request.tags, "dagster/run_key": request.run_key})

    def tick_and_run(self) -> list[dg.ExecuteInProcessResult]:
        return [self.run(request) for request in self.tick().run_requests or []]


def export(n: int = 30, *, pii: bool = True) -> bytes:
    frame = semester_frame(S1, n).drop(columns=["final_grade"])
    if pii:
        frame.insert(1, "Name", [PII_NAMES[i % 3] + f" {i}" for i in range(n)])
    return frame.to_csv(index=False).encode()


def stored(engine, period=None) -> int:
    query = sa.select(sa.func.count()).select_from(student_reports)
    if period is not None:
        query = query.where(student_reports.c.start_date_period == period.start)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def audit_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(uploads)).all()


def outputs(run: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def claimed_config(request: dg.RunRequest):
    return request.run_config["ops"]["ingest_inbox_file"]


def test_drop_and_ingest_in_a_run_of_its_own(engine, inbox, instance, resources) -> None:
    content = export()
    (inbox / f"{S1.key}_export.csv").write_bytes(content)
    sensor = Inbox(instance, resources)
    assert sensor.tick().run_requests == []  # first look: the file might still be growing
    (request,) = sensor.tick().run_requests  # unchanged since the last look: claimed
    assert stored(engine) == 0 and not (inbox / f"{S1.key}_export.csv").exists()  # the sensor read nothing
    run = sensor.run(request)
    assert run.success and run.dagster_run.job_name == "inbox_ingest_job"
    assert (outputs(run)["status"], outputs(run)["inserted"]) == ("ingested", 30)
    assert stored(engine) == 30
    (receipt,) = (inbox / "processed").glob("*.receipt.json")
    text = receipt.read_text()
    body = json.loads(text)
    assert (body["status"], body["inserted"], body["dropped_columns"]) == ("ingested", 30, ["Name"])
    assert not any(name.split()[0] in text for name in PII_NAMES)
    (audit,) = audit_rows(engine)
    assert (audit.source, audit.rows_inserted) == ("inbox", 30)
    assert audit.content_sha256 == body["sha256"]
    assert list((inbox / "processed").iterdir()) == [receipt]  # the original is not kept
    assert list((inbox / WORKING).iterdir()) == []
    assert sensor.tick().run_requests == []  # nothing left to claim or to run


def test_half_copied_file_waits_until_stable(engine, inbox, instance, resources) -> None:
    content = export(40)
    target = inbox / f"{S1.key}.csv"
    target.write_bytes(content[: len(content) // 2])
    (inbox / f"{S1.key}_other.csv.part").write_bytes(content)  # being copied under a temporary name
    sensor = Inbox(instance, resources)
    sensor.tick_and_run()
    with target.open("ab") as handle:  # the copy goes on between two ticks
        handle.write(content[len(content) // 2:])
    assert sensor.tick_and_run() == []
    assert stored(engine) == 0
    sensor.tick_and_run()
    assert stored(engine) == 40
    assert (inbox / f"{S1.key}_other.csv.part").exists()


def test_file_written_to_after_its_claim_goes_back_and_is_ingested_whole(engine, inbox, instance,
                                                                       resources) -> None:
    content = export(40)
    target = inbox / f"{S1.key}.csv"
    target.write_bytes(content[: len(content) // 2])
    sensor = Inbox(instance, resources)
    sensor.tick()
    (request,) = sensor.tick().run_requests  # looked complete twice, so it was claimed...
    (claimed,) = (inbox / WORKING).rglob("*.csv")
    with claimed.open("ab") as handle:  # ...but its writer still had it open
        handle.write(content[len(content) // 2:])
    run = sensor.run(request)
    assert outputs(run)["status"] == "changed"
    assert stored(engine) == 0 and target.read_bytes() == content  # back in the inbox, whole
    sensor.tick()
    sensor.tick_and_run()
    assert stored(engine) == 40
    assert len(audit_rows(engine)) == 1


def test_same_content_dropped_twice_is_ingested_once(engine, inbox, instance, resources) -> None:
    content = export()
    sensor = Inbox(instance, resources)
    (inbox / f"{S1.key}_monday.csv").write_bytes(content)
    sensor.tick_and_run()
    sensor.tick_and_run()
    (inbox / f"{S1.key}_tuesday.csv").write_bytes(content)
    sensor.tick_and_run()
    sensor.tick_and_run()
    assert len(audit_rows(engine)) == 1
    assert not (inbox / f"{S1.key}_tuesday.csv").exists()
    statuses = sorted(json.loads(p.read_text())["status"] for p in (inbox / "processed").glob("*.json"))
    assert statuses == ["duplicate", "ingested"]


def test_same_content_for_another_semester_is_ingested(engine, inbox, instance, resources) -> None:
    """A school exports the same file for two semesters (issue 13, item 3): two uploads."""
    content = export()
    (inbox / f"{S1.key}.csv").write_bytes(content)
    (inbox / f"{S2.key}.csv").write_bytes(content)
    sensor = Inbox(instance, resources)
    sensor.tick()
    assert all(run.success for run in sensor.tick_and_run())
    assert (stored(engine, S1), stored(engine, S2)) == (30, 30)
    assert sorted((a.start_date_period, a.rows_inserted) for a in audit_rows(engine)) == [
        (S1.start, 30), (S2.start, 30)]


def test_a_retried_tick_claims_nothing_twice_and_a_rerun_stores_nothing_twice(engine, inbox, instance,
                                                                             resources) -> None:
    (inbox / f"{S1.key}.csv").write_bytes(export())
    sensor = Inbox(instance, resources)
    sensor.tick()
    before = sensor.cursor
    (first,) = sensor.tick().run_requests
    sensor.cursor = before  # the tick's result was lost: the daemon evaluates it again
    (again,) = sensor.tick().run_requests  # the claim is offered again, under the same run key
    assert again.run_key == first.run_key
    assert len(list((inbox / WORKING).rglob("*.csv"))) == 1
    assert outputs(sensor.run(first))["status"] == "ingested"
    assert outputs(sensor.run(again))["status"] == "vanished"  # had the daemon not de-duplicated it
    assert sensor.tick().run_requests == []
    assert stored(engine) == 30 and len(audit_rows(engine)) == 1


def test_a_vanished_or_unreadable_file_never_blocks_the_others(engine, inbox, instance, resources,
                                                              caplog) -> None:
    for name, rows in (("a", 10), ("b", 11), ("c", 12)):
        (inbox / f"{S1.key}_{name}.csv").write_bytes(export(rows))
    sensor = Inbox(instance, resources)
    sensor.tick()
    claimed = {Path(claimed_config(r)["config"]["original"]).stem[-1]: r for r in sensor.tick().run_requests}
    assert sorted(claimed) == ["a", "b", "c"]
    folders = {k: inbox / WORKING / claimed_config(r)["config"]["claim_id"] for k, r in claimed.items()}
    os.remove(next(folders["a"].glob("*.csv")))  # gone between the claim and its run
    unreadable = next(folders["b"].glob("*.csv"))
    unreadable.unlink()
    unreadable.mkdir()  # something that cannot be read as a file takes its place
    with caplog.at_level(logging.WARNING):
        runs = {k: sensor.run(claimed[k]) for k in ("a", "b", "c")}
        assert sensor.tick_and_run() == [] and sensor.tick_and_run() == []
    assert all(run.success for run in runs.values())
    assert [outputs(runs[k])["status"] for k in ("a", "b", "c")] == ["vanished", "rejected", "ingested"]
    assert stored(engine) == 12  # file c
    assert len([r for r in caplog.records if "disappeared" in r.getMessage()]) == 1  # reported once
    (note,) = (inbox / "rejected").glob("*.error.json")
    assert "cannot be read" in json.loads(note.read_text())["error"]


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("students.csv", None, "does not say which semester"),
    (f"{S1.key}.csv", b"user_id,gender\n1,female\n", "missing the required column(s)"),
    ("2026-02-30_2026-06-30.csv", None, "impossible date"),
])
def test_refused_files_go_to_rejected_with_the_reason(engine, inbox, instance, resources, name, content,
                                                      fragment) -> None:
    (inbox / name).write_bytes(content or export())
    sensor = Inbox(instance, resources)
    sensor.tick_and_run()
    sensor.tick_and_run()
    assert stored(engine) == 0 and audit_rows(engine) == []
    assert not (inbox / name).exists()
    (error_file,) = (inbox / "rejected").glob("*.error.json")
    assert fragment in json.loads(error_file.read_text())["error"]
    assert [p for p in (inbox / "rejected").iterdir() if p.name.endswith(name)]


def _age(path: Path, days: float) -> None:
    when = (datetime.now(UTC) - timedelta(days=days)).timestamp()
    os.utime(path, (when, when))


def test_refused_files_are_announced_then_deleted_after_the_retention(engine, inbox, instance, resources,
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("GRADEWATCH_INBOX_REJECTED_RETENTION_DAYS", "14")
    (inbox / "students.csv").write_bytes(export())  # no semester in its name: refused
    sensor = Inbox(instance, resources)
    sensor.tick_and_run()
    sensor.tick_and_run()
    (refused,) = [p for p in (inbox / "rejected").iterdir() if not p.name.endswith(".error.json")]
    note = refused.with_name(refused.name + ".error.json")
    sensor.tick()
    sensor.tick()

    def raised() -> list:
        with engine.connect() as conn:
            return conn.execute(sa.select(alerts.c.kind, alerts.c.message).order_by(alerts.c.id)).all()

    (announced,) = raised()  # once, not at every tick
    assert announced.kind == "inbox_rejected_pending" and refused.name in announced.message
    _age(note, 13.5)  # a day before the deletion: one reminder
    sensor.tick()
    sensor.tick()
    assert [kind for kind, _ in raised()] == ["inbox_rejected_pending"] * 2
    assert refused.exists()
    _age(note, 14.01)
    sensor.tick()
    assert not refused.exists() and not note.exists()
    assert list((inbox / "rejected").iterdir()) == []


def test_grades_by_folder_lead_to_the_evaluation_run(engine, inbox, instance, resources) -> None:
    frame = semester_frame(S1, 30)
    upload(engine, S1, frame, grades=False)
    folder = inbox / S1.key
    folder.mkdir()
    (folder / "final_grades.csv").write_bytes(frame[["user_id", "final_grade"]].to_csv(index=False).encode())
    grades = Sensor(final_grades_sensor, instance, resources)
    assert grades.tick().run_requests == []
    sensor = Inbox(instance, resources)
    sensor.tick_and_run()
    sensor.tick_and_run()
    assert not folder.exists()  # emptied and removed
    (request,) = grades.tick().run_requests
    assert request.partition_key == S1.key


def test_crash_between_ingest_and_deletion_loses_nothing_and_ingests_once(engine, inbox) -> None:
    path = inbox / f"{S1.key}.csv"
    path.write_bytes(export())
    (claim,) = look_at_inbox(inbox, look_at_inbox(inbox, {}).snapshot).claims

    def crash(_path: Path) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        ingest_claim(engine, inbox, claim, after_ingest=crash)
    assert claim.path(inbox).exists()  # the file is not lost
    assert stored(engine) == 30
    outcome = ingest_claim(engine, inbox, claim)  # the run again
    assert (outcome.status, outcome.result) == ("duplicate", None)
    assert len(audit_rows(engine)) == 1
    assert not claim.path(inbox).exists()


@pytest.mark.parametrize("keep", ["1", "0"])
def test_keep_originals_setting_decides_through_the_sensor(engine, inbox, instance, resources, monkeypatch,
                                                           keep) -> None:
    monkeypatch.setenv("GRADEWATCH_INBOX_KEEP_ORIGINALS", keep)
    (inbox / f"{S1.key}.csv").write_bytes(export())
    sensor = Inbox(instance, resources)
    sensor.tick_and_run()  # first look: the file must stay the same until the next one
    sensor.tick_and_run()
    assert stored(engine) == 30
    processed = inbox / "processed"
    kept = [p for p in processed.iterdir() if p.name.endswith(f"{S1.key}.csv")] if processed.is_dir() else []
    if keep == "1":
        assert len(kept) == 1 and kept[0].read_bytes() == export()
    else:
        assert kept == [] and not (inbox / f"{S1.key}.csv").exists()


def test_the_inbox_checks_ids_with_the_configured_pattern(engine, inbox, instance, resources, monkeypatch) -> None:
    # The inbox is one more door into the same ingestion: GRADEWATCH_USER_ID_PATTERN holds there too.
    monkeypatch.setenv("GRADEWATCH_USER_ID_PATTERN", r"\d{6}-\d{5}")  # the ids of semester_frame
    frame = semester_frame(S1, 30).drop(columns=["final_grade"])
    frame.loc[3, "user_id"] = "guest-17"  # a campus id, but not this school's format
    (inbox / f"{S1.key}.csv").write_bytes(frame.to_csv(index=False).encode())
    sensor = Inbox(instance, resources)
    sensor.tick_and_run()
    (run,) = sensor.tick_and_run()
    assert run.success and stored(engine) == 29
    (receipt,) = (inbox / "processed").glob("*.receipt.json")
    body = json.loads(receipt.read_text())
    assert [e["row"] for e in body["errors"]] == [5] and "guest-17" not in receipt.read_text()


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
