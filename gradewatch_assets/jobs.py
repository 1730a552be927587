"""The runs the sensors and schedules launch."""

from __future__ import annotations

import dagster as dg

from gradewatch_assets.assets.model import trained_model, training_set
from gradewatch_assets.assets.semester import (
    cleaned_features,
    drift_metrics,
    grade_predictions,
    model_performance,
    student_reports,
)

# New or changed data, a new champion, or the biweekly refresh: clean -> drift -> predict.
semester_job = dg.define_asset_job(
    "semester_job",
    selection=[student_reports, cleaned_features, drift_metrics, grade_predictions],
    description="Clean a semester, measure its drift and predict its students.",
)

# Final grades arrived: clean -> performance -> drift -> the retraining decision.
evaluation_job = dg.define_asset_job(
    "evaluation_job",
    selection=[student_reports, cleaned_features, model_performance, drift_metrics, training_set,
               trained_model],
    description="Evaluate a graded semester, then decide whether to retrain and promote.",
)
