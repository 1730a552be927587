"""Sensors and schedules evaluated with build_sensor_context / build_schedule_context on a real
instance, against SQLite and PostgreSQL application databases."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from gradewatch.models.registry import promote, register_model
from gradewatch.models.training import SearchConfig, train_model
from gradewatch.storage.tables import alerts
from gradewatch_assets.schedules import biweekly_predictions
from gradewatch_assets.sensors import final_grades_sensor, run_failure_alert_sensor, semester_sensor
from tests.support.gradegen import make_semester
from tests.support.semesters import S1, S2, semester_frame, upload, upload_grades


def tick(sensor, instance, resources, cursor: str | None = None) -> dg.SensorResult:
    # As a context manager: the context holds the instance only weakly otherwise.
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = sensor(context)
    # Apply the partition requests as the daemon would, so the next tick sees them.
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_new_semester_adds_its_partition_and_requests_a_run(engine, instance, resources) -> None:
    upload(engine, S1, semester_frame(S1, 50), grades=False)
    result = tick(semester_sensor, instance, resources)
    (add,) = result.dynamic_partitions_requests
    assert add.partitions_def_name == "semester" and list(add.partition_keys) == [S1.key]
    (request,) = result.run_requests
    assert request.partition_key == S1.key
    assert request.tags["gradewatch/semester"] == S1.key
    assert json.loads(result.cursor) == {S1.key: request.run_key.rsplit(":", 1)[1]}


def test_unchanged_data_requests_nothing_and_cursor_round_trips(engine, instance, resources) -> None:
    upload(engine, S1, semester_frame(S1, 50), grades=False)
    first = tick(semester_sensor, instance, resources)
    again = tick(semester_sensor, instance, resources, cursor=first.cursor)
    assert again.run_requests == []
    assert again.dynamic_partitions_requests == []
    assert json.loads(again.cursor) == json.loads(first.cursor)
    # A fresh context (a restarted daemon) with the stored cursor decides the same.
    restarted = tick(semester_sensor, instance, resources, cursor=again.cursor)
    assert restarted.run_requests == []


def test_changed_data_requests_a_new_run(engine, instance, resources) -> None:
    frame = semester_frame(S1, 50)
    upload(engine, S1, frame, grades=False)
    first = tick(semester_sensor, instance, resources)
    frame.loc[3, "attendance_rate"] = 12.0
    upload(engine, S1, frame, grades=False)
    second = tick(semester_sensor, instance, resources, cursor=first.cursor)
    (request,) = second.run_requests
    assert request.partition_key == S1.key
    assert request.run_key != first.run_requests[0].run_key


def test_a_new_champion_re_predicts_open_semesters(engine, instance, resources) -> None:
    upload(engine, S1, semester_frame(S1, 50), grades=False)
    first = tick(semester_sensor, instance, resources)
    trained = train_model(make_semester(300, seed=1), config=SearchConfig(families=("ridge",), n_iter=1, cv=3))
    promote(engine, register_model(engine, trained, ["2024-01-08_2024-06-28"]))
    second = tick(semester_sensor, instance, resources, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == [S1.key]


def test_final_grades_request_the_evaluation_run(engine, instance, resources) -> None:
    frame = semester_frame(S1, 50)
    upload(engine, S1, frame, grades=False)
    upload(engine, S2, semester_frame(S2, 30), grades=False)
    nothing = tick(final_grades_sensor, instance, resources)
    assert nothing.run_requests == []
    upload_grades(engine, S1, frame.head(20))
    graded = tick(final_grades_sensor, instance, resources, cursor=nothing.cursor)
    (request,) = graded.run_requests
    assert request.partition_key == S1.key
    assert request.job_name in (None, "evaluation_job")
    assert request.tags["gradewatch/training"] == "evaluation"
    assert tick(final_grades_sensor, instance, resources, cursor=graded.cursor).run_requests == []
    upload_grades(engine, S1, frame.tail(30))  # the rest of the grades arrive
    more = tick(final_grades_sensor, instance, resources, cursor=graded.cursor)
    assert [r.partition_key for r in more.run_requests] == [S1.key]
    assert more.run_requests[0].run_key != request.run_key


def test_fully_graded_semester_is_not_re_predicted(engine, instance, resources) -> None:
    upload(engine, S1, semester_frame(S1, 40), grades=True)
    assert tick(semester_sensor, instance, resources).run_requests == []


def test_biweekly_schedule_refreshes_open_semesters_only(engine, instance, resources) -> None:
    upload(engine, S1, semester_frame(S1, 30), grades=True)   # graded: closed
    upload(engine, S2, semester_frame(S2, 30), grades=False)  # running
    when = datetime.combine(S2.start + timedelta(days=30), datetime.min.time())
    with dg.build_schedule_context(instance=instance, resources=resources,
                                   scheduled_execution_time=when) as context:
        requests = list(biweekly_predictions(context))
    assert [r.partition_key for r in requests] == [S2.key]


def test_a_failed_run_raises_a_run_failed_alert(engine, instance, resources) -> None:
    @dg.op
    def store_predictions() -> None:
        raise RuntimeError("the database went away")

    @dg.job
    def broken_job() -> None:
        store_predictions()

    result = broken_job.execute_in_process(instance=instance, raise_on_error=False,
                                           tags={"dagster/partition": S1.key})
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources=resources,
    ).for_run_failure()
    run_failure_alert_sensor(context)
    with engine.connect() as conn:
        (row,) = conn.execute(sa.select(alerts.c.kind, alerts.c.severity, alerts.c.semester,
                                        alerts.c.message)).all()
    assert row.kind == "run_failed" and row.severity == "error" and row.semester == S1.key
    assert "broken_job failed" in row.message and result.dagster_run.run_id[:8] in row.message
