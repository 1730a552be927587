"""Sensor and schedule ticks read ``semester_versions`` and never scan the per-student tables
(issue 16, item 3): asserted on the SQL statements the application engine really sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from gradewatch_assets.schedules import biweekly_predictions, end_of_semester
from gradewatch_assets.sensors import final_grades_sensor, semester_sensor
from tests.support.semesters import S1, S2, semester_frame, upload, upload_grades

PER_STUDENT = re.compile(r"\b(student_reports|cleaned_features|grade_predictions)\b", re.IGNORECASE)


@contextmanager
def statements_sent(engine: sa.Engine) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_ticks_issue_no_query_on_the_per_student_tables(engine, instance, resources) -> None:
    graded = semester_frame(S1, 40)
    upload(engine, S1, graded, grades=False)
    upload_grades(engine, S1, graded.head(30))
    upload(engine, S2, semester_frame(S2, 25), grades=False)
    instance.add_dynamic_partitions("semester", [S1.key, S2.key])
    requested: list[str] = []
    with statements_sent(resources["gradewatch"].engine()) as sent:
        for sensor in (semester_sensor, final_grades_sensor):
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                requested += [f"{sensor.name}:{r.partition_key}" for r in sensor(context).run_requests]
        for schedule, day in ((biweekly_predictions, S2.start + timedelta(days=20)),
                              (end_of_semester, S1.end + timedelta(days=30))):
            when = datetime.combine(day, datetime.min.time())
            with dg.build_schedule_context(instance=instance, resources=resources,
                                           scheduled_execution_time=when) as context:
                requested += [f"{schedule.name}:{r.partition_key}" for r in schedule(context)]
    # The ticks did their work: every decision below needs each semester's counts.
    assert sorted(requested) == sorted([
        f"semester_sensor:{S1.key}", f"semester_sensor:{S2.key}", f"final_grades_sensor:{S1.key}",
        f"biweekly_predictions:{S2.key}", f"end_of_semester:{S1.key}"])
    assert [s for s in sent if PER_STUDENT.search(s)] == []
    assert any("semester_versions" in s for s in sent)
