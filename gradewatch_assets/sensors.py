"""Sensors: new semesters and changed data, arriving final grades, failed runs (the CSV inbox's
sensor lives in gradewatch_assets.inbox).

Each sensor keeps, in its cursor, the version of every semester it has acted on: a semester
whose version is unchanged requests nothing, a changed one always requests a run, and the run
key carries the version so that a restart never runs the same data twice.
"""


import json

import dagster as dg

from gradewatch.models.registry import champion_version
from gradewatch.monitoring.alerts import alert
from gradewatch.settings import load_settings
from gradewatch.storage.semesters import SemesterStatus, semester_statuses
from gradewatch_assets.jobs import evaluation_job, semester_job
from gradewatch_assets.partitions import SEMESTER_TAG, TRAINING_TAG, semester_partitions
from gradewatch_assets.resources import GradewatchResource

# How often the sensors look at the database (GRADEWATCH_SENSOR_INTERVAL_SECONDS), read when the
# code location loads: sensor definitions are fixed at that point.
INTERVAL = load_settings().sensor_interval_seconds


def _cursor(context: dg.SensorEvaluationContext) -> dict[str, str]:
    try:
        seen = json.loads(context.cursor) if context.cursor else {}
    except json.JSONDecodeError:
        return {}
    return seen if isinstance(seen, dict) else {}


def _new_partitions(context: dg.SensorEvaluationContext, statuses: list[SemesterStatus]) -> list:
    known = set(context.instance.get_dynamic_partitions(semester_partitions.name))
    new = [s.period.key for s in statuses if s.period.key not in known]
    return [semester_partitions.build_add_request(new)] if new else []


@dg.sensor(job=semester_job, minimum_interval_seconds=INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a partition for each new semester in student_reports and runs "
                       "clean -> drift -> predict when a semester's data (or the champion) changed.")
def semester_sensor(context: dg.SensorEvaluationContext, gradewatch: GradewatchResource) -> dg.SensorResult:
    engine = gradewatch.engine()
    statuses = semester_statuses(engine)
    champion = champion_version(engine)
    seen = _cursor(context)
    requests = []
    for status in statuses:
        key = status.period.key
        version = status.features_version(champion)
        if not status.is_open or seen.get(key) == version:
            continue
        requests.append(dg.RunRequest(
            partition_key=key, run_key=f"semester:{key}:{version}",
            tags={SEMESTER_TAG: key, "gradewatch/reason": "data or champion changed"},
        ))
        seen[key] = version
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=_new_partitions(context, statuses),
                           cursor=json.dumps(seen, sort_keys=True))


def grades_run_key(status: SemesterStatus) -> str:
    """The run key of the evaluation of ``status``'s grades (end_of_semester looks for it too)."""
    return f"grades:{status.period.key}:{status.grades_version}"


@dg.sensor(job=evaluation_job, minimum_interval_seconds=INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING,
           description="When final grades arrive for a semester, runs clean -> performance -> "
                       "drift -> the retraining decision.")
def final_grades_sensor(context: dg.SensorEvaluationContext, gradewatch: GradewatchResource) -> dg.SensorResult:
    statuses = semester_statuses(gradewatch.engine())
    seen = _cursor(context)
    requests = []
    for status in statuses:
        key = status.period.key
        if status.graded == 0 or seen.get(key) == status.grades_version:
            continue
        requests.append(dg.RunRequest(
            partition_key=key, run_key=grades_run_key(status),
            tags={SEMESTER_TAG: key, TRAINING_TAG: "evaluation",
                  "gradewatch/reason": f"final grades: {status.graded} of {status.rows}"},
        ))
        seen[key] = status.grades_version
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=_new_partitions(context, statuses),
                           cursor=json.dumps(seen, sort_keys=True))


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=INTERVAL,
                       description="Alerts the ML engineer when any GradeWatch run fails.")
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, gradewatch: GradewatchResource) -> None:
    gradewatch.setup_for_execution(None)  # logging and alert storage in the daemon's process
    run = context.dagster_run
    message = context.failure_event.message or "no message"
    alert("run_failed", "error", f"run {run.run_id[:8]} of {run.job_name} failed: {message}",
          run_id=run.run_id, job=run.job_name, semester=run.tags.get("dagster/partition"))
