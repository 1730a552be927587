"""end_of_semester counts a semester as evaluated only when an evaluation run of its grades did
not fail (issue 13, item 7), on a real instance, both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg

from gradewatch_assets.definitions import build_definitions
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.schedules import end_of_semester
from gradewatch_assets.sensors import final_grades_sensor
from tests.support.semesters import S1, semester_frame, upload, upload_grades

# A database that does not exist: every run against it fails, as with a database outage.
UNREACHABLE = GradewatchResource(database_url="postgresql+psycopg://postgres@127.0.0.1:5432/gw_no_such_database")


def tick(instance, resources, day) -> list[dg.RunRequest]:
    when = datetime.combine(day, datetime.min.time())
    with dg.build_schedule_context(instance=instance, resources=resources,
                                   scheduled_execution_time=when) as context:
        return list(end_of_semester(context))


def launch(instance, request: dg.RunRequest, gradewatch: GradewatchResource) -> bool:
    """Run the requested evaluation as the daemon would (tags, run key); True on success."""
    job = build_definitions(gradewatch).resolve_job_def("evaluation_job")
    return job.execute_in_process(partition_key=request.partition_key, instance=instance, raise_on_error=False,
                                  tags={**request.tags, "dagster/run_key": request.run_key}).success


def test_a_failed_evaluation_is_evaluated_again(engine, instance, resources) -> None:
    frame = semester_frame(S1, 40)
    upload(engine, S1, frame, grades=False)
    upload_grades(engine, S1, frame)  # every grade is in
    instance.add_dynamic_partitions("semester", [S1.key])
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        (by_sensor,) = final_grades_sensor(context).run_requests
    assert not launch(instance, by_sensor, UNREACHABLE)  # the sensor's evaluation failed
    deadline = S1.end + timedelta(days=15)
    (first,) = tick(instance, resources, deadline)  # so the deadline evaluates
    assert not launch(instance, first, UNREACHABLE)  # and fails too
    (second,) = tick(instance, resources, deadline + timedelta(days=1))  # tried again the next day
    assert second.run_key != first.run_key
    assert launch(instance, second, resources["gradewatch"])
    assert tick(instance, resources, deadline + timedelta(days=2)) == []  # done, for good
