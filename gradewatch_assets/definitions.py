"""The GradeWatch code location: ``dagster dev -m gradewatch_assets.definitions``."""

from __future__ import annotations

import dagster as dg

from gradewatch_assets.assets.model import trained_model, training_set
from gradewatch_assets.assets.semester import (
    cleaned_features,
    drift_metrics,
    estimated_performance,
    grade_predictions,
    model_performance,
    student_reports,
)
from gradewatch_assets.inbox import csv_inbox_sensor, inbox_ingest_job
from gradewatch_assets.jobs import evaluation_job, semester_job
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.schedules import biweekly_predictions, end_of_semester
from gradewatch_assets.sensors import final_grades_sensor, run_failure_alert_sensor, semester_sensor

ASSETS = [student_reports, cleaned_features, drift_metrics, grade_predictions, estimated_performance,
          model_performance, training_set, trained_model]


def build_definitions(gradewatch: GradewatchResource | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        # Every job runs its steps one after another in the run's own process. Each step only
        # reads and writes the database, so a process per step (the multiprocess default) buys
        # nothing but a fresh interpreter importing Dagster, pandas and scikit-learn for every
        # step: a 100k-student semester run took 57 s that way and 6 s in one process
        # (docs/scaling.md, "Where runs execute").
        executor=dg.in_process_executor,
        jobs=[semester_job, evaluation_job, inbox_ingest_job],
        sensors=[semester_sensor, final_grades_sensor, run_failure_alert_sensor, csv_inbox_sensor],
        schedules=[biweekly_predictions, end_of_semester],
        resources={"gradewatch": gradewatch or GradewatchResource()},
    )


defs = build_definitions()
