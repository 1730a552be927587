"""The runs the sensors and schedules launch."""

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
from gradewatch_assets.partitions import TRAINING_TAG

# New or changed data, a new champion, or the biweekly refresh: clean -> drift -> predict.
semester_job = dg.define_asset_job(
    "semester_job",
    selection=[student_reports, cleaned_features, drift_metrics, grade_predictions, estimated_performance],
    description="Clean a semester, measure its drift, predict its students and estimate the accuracy "
                "of those predictions before the grades arrive.",
)

# Final grades arrived: clean -> performance -> drift -> the retraining decision.
evaluation_job = dg.define_asset_job(
    "evaluation_job",
    selection=[student_reports, cleaned_features, model_performance, drift_metrics, training_set,
               trained_model],
    description="Evaluate a graded semester, then decide whether to retrain and promote.",
    # On the job itself, so a backfill or a run launched from the UI is held by the instance's
    # one-evaluation-at-a-time limit as much as a sensor's run is.
    tags={TRAINING_TAG: "evaluation"},
)
