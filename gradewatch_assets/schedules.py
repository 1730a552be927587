"""Schedules: the biweekly prediction refresh and the end-of-semester evaluation."""

import itertools

import dagster as dg

from gradewatch import pipeline
from gradewatch.storage.semesters import semester_statuses
from gradewatch_assets.jobs import evaluation_job, semester_job
from gradewatch_assets.partitions import SEMESTER_TAG, TRAINING_TAG
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.sensors import grades_run_key


@dg.schedule(cron_schedule="0 6 1,15 * *", job=semester_job, default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Twice a month, refresh the predictions of every semester still running.")
def biweekly_predictions(context: dg.ScheduleEvaluationContext, gradewatch: GradewatchResource):
    today = context.scheduled_execution_time.date()
    for status in semester_statuses(gradewatch.engine()):
        if status.is_open and status.period.end >= today:
            key = status.period.key
            yield dg.RunRequest(partition_key=key, run_key=f"biweekly:{key}:{today.isoformat()}",
                                tags={SEMESTER_TAG: key, "gradewatch/reason": "biweekly refresh"})


# A run that failed or was canceled evaluated nothing: it never counts as done.
_NOT_DONE = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def _runs(context: dg.ScheduleEvaluationContext, run_key: str) -> list[dg.DagsterRun]:
    return list(context.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": run_key})))


def _evaluated(context: dg.ScheduleEvaluationContext, run_key: str) -> bool:
    """A run with this key succeeded, or is still queued or running."""
    return any(run.status not in _NOT_DONE for run in _runs(context, run_key))


def _next_attempt(context: dg.ScheduleEvaluationContext, first_key: str) -> str | None:
    """The run key of the next attempt at these grades, or None when one succeeded or is under way.

    Each attempt needs a key of its own: the daemon never launches a run key twice.
    """
    for attempt in itertools.count(1):
        run_key = first_key if attempt == 1 else f"{first_key}:attempt-{attempt}"
        runs = _runs(context, run_key)
        if not runs:
            return run_key
        if any(run.status not in _NOT_DONE for run in runs):
            return None
    raise AssertionError("unreachable")


@dg.schedule(cron_schedule="0 7 * * *", job=evaluation_job, default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Daily: evaluate semesters past their end date plus GRADEWATCH_GRADES_GRACE_DAYS "
                         "with the grades that are in; alert final_grades_missing below "
                         "GRADEWATCH_MIN_GRADE_COVERAGE.")
def end_of_semester(context: dg.ScheduleEvaluationContext, gradewatch: GradewatchResource):
    gradewatch.setup_for_execution(None)
    today = context.scheduled_execution_time.date()
    for due in pipeline.evaluations_due(gradewatch.engine(), today, gradewatch.settings()):
        status, key = due.status, due.status.period.key
        run_key = _next_attempt(context, f"end_of_semester:{key}:{status.grades_version}")
        if run_key is None:
            continue  # evaluated already with these very grades (or being evaluated)
        if due.verdict.passed and _evaluated(context, grades_run_key(status)):
            continue  # final_grades_sensor evaluated these very grades, and nothing is missing
        due.verdict.alert_if_failed()  # the run at the deadline records the coverage beside the alert
        yield dg.RunRequest(partition_key=key, run_key=run_key,
                            tags={SEMESTER_TAG: key, TRAINING_TAG: "evaluation",
                                  "gradewatch/reason": f"end of semester, coverage {status.grade_coverage:.0%}"})
