"""Schedules: the biweekly prediction refresh and the end-of-semester evaluation."""


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


def _already_requested(context: dg.ScheduleEvaluationContext, run_key: str) -> bool:
    runs = context.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    return bool(runs)


@dg.schedule(cron_schedule="0 7 * * *", job=evaluation_job, default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Daily: evaluate semesters past their end date plus GRADEWATCH_GRADES_GRACE_DAYS "
                         "with the grades that are in; alert final_grades_missing below "
                         "GRADEWATCH_MIN_GRADE_COVERAGE.")
def end_of_semester(context: dg.ScheduleEvaluationContext, gradewatch: GradewatchResource):
    gradewatch.setup_for_execution(None)
    today = context.scheduled_execution_time.date()
    for due in pipeline.evaluations_due(gradewatch.engine(), today, gradewatch.settings()):
        status, key = due.status, due.status.period.key
        run_key = f"end_of_semester:{key}:{status.grades_version}"
        if _already_requested(context, run_key):
            continue  # evaluated already with these very grades
        if due.verdict.passed and _already_requested(context, grades_run_key(status)):
            continue  # final_grades_sensor evaluated these very grades, and nothing is missing
        due.verdict.alert_if_failed()  # the run at the deadline records the coverage beside the alert
        yield dg.RunRequest(partition_key=key, run_key=run_key,
                            tags={SEMESTER_TAG: key, TRAINING_TAG: "evaluation",
                                  "gradewatch/reason": f"end of semester, coverage {status.grade_coverage:.0%}"})
