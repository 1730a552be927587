"""The model page: champion, its validation metrics, accuracy per semester, drift charts."""

from __future__ import annotations

from typing import Any

from flask import render_template

from gradewatch.models.standing import model_standing
from gradewatch.storage.estimates import read_estimates
from gradewatch.storage.monitoring import read_performance
from gradewatch.storage.overview import drift_history
from webapp.context import get_engine, get_settings
from webapp.pages.blueprint import pages
from webapp.pages.charts import drift_charts
from webapp.pages.security import signed_in

# Validation metrics recorded by gradewatch.models.training.train_model, in the order shown.
METRIC_LABELS = {
    "cv_mae": "Mean absolute error (cross-validated, grade points)",
    "cv_rmse": "Root mean squared error (cross-validated)",
    "cv_r2": "R² (cross-validated)",
    "coverage_nominal": "Prediction interval: intended coverage",
    "interval_offsets": "Prediction interval: offsets around the grade",
    "n_train": "Graded students trained on",
    "cv_folds": "Cross-validation folds",
}


def validation_metrics(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Readable (label, value) pairs of the metrics a person can interpret."""
    shown = []
    for key, label in METRIC_LABELS.items():
        value = metrics.get(key)
        if value is None:
            continue
        if isinstance(value, list) and len(value) == 2:
            text = f"{value[0]:+.1f} to {value[1]:+.1f} points"
        elif key == "coverage_nominal":
            text = f"{value:.0%}"
        elif isinstance(value, float):
            text = f"{value:.3f}"
        else:
            text = str(value)
        shown.append((label, text))
    return shown


@pages.get("/model-status")
@signed_in()
def model_status() -> str:
    engine = get_engine()
    standing = model_standing(engine, get_settings())
    champion = standing.champion
    performance = sorted(read_performance(engine),
                         key=lambda r: (r["start_date_period"], r["end_date_period"], r["model_version"]),
                         reverse=True)
    return render_template(
        "pages/model_status.html",
        champion=champion,
        standing=standing,
        metrics=validation_metrics(champion.metrics) if champion else [],
        performance=performance,
        # The newest evaluation with a reliability table: predicted vs observed failure rate by band.
        reliability=next((p for p in performance if p.get("reliability")), None),
        estimates=list(reversed(read_estimates(engine))),
        charts=drift_charts(drift_history(engine)),
    )
