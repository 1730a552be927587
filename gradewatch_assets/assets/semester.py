"""The semester assets: the uploaded reports, their cleaned features, drift, predictions and
accuracy. Each is a thin shell over one function of ``gradewatch.pipeline``: the function
writes the asset's table, reaches the check's verdict and raises its alert; the asset only
translates that outcome into metadata and check results."""

# No "from __future__ import annotations" in the Dagster modules: Dagster inspects the context
# and resource parameter annotations at definition time, so they must be real classes.
import dagster as dg

from gradewatch import pipeline
from gradewatch.monitoring import checks, trust_checks
from gradewatch.storage.semesters import semester_status
from gradewatch_assets.metadata import (
    DATA_OWNERS,
    ML_OWNERS,
    check_result,
    drift_table,
    evaluation_metadata,
    table_metadata,
)
from gradewatch_assets.partitions import period_of, semester_partitions
from gradewatch_assets.resources import GradewatchResource


@dg.asset(
    partitions_def=semester_partitions,
    group_name="intake",
    kinds={"python", "sql"},
    owners=DATA_OWNERS,
    description="The semester's student reports as uploaded (POST /update-csv, the upload page or "
                "the inbox): observed here, written by the upload path. Row count and final-grade "
                "coverage.",
)
def student_reports(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    status = semester_status(gradewatch.engine(), period_of(context))
    return dg.MaterializeResult(
        metadata={
            **table_metadata("student_reports", status.rows),
            "rows": status.rows,
            "final_grades": status.graded,
            "grade_coverage": dg.MetadataValue.float(round(status.grade_coverage, 4)),
            "last_update": str(status.last_update),
        },
        data_version=dg.DataVersion(f"{status.features_version(None)}-{status.grades_version}"),
    )


@dg.asset(
    partitions_def=semester_partitions,
    group_name="features",
    kinds={"python", "pandas", "sql"},
    owners=DATA_OWNERS,
    deps=[student_reports],
    description="Rows cleaned of human errors (ranges, sentinels, scales, duplicates, typos), with "
                "imputations flagged and unusable rows excluded. Writes table cleaned_features.",
    check_specs=[dg.AssetCheckSpec(checks.EXCLUDED_ROWS_WITHIN_LIMIT, asset="cleaned_features",
                                   description=f"At most {checks.MAX_EXCLUDED_SHARE:.0%} of the rows "
                                               "are too damaged to predict.")],
)
def cleaned_features(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    period = period_of(context)
    outcome = pipeline.clean_semester_rows(gradewatch.engine(), period)
    report = outcome.report
    return dg.MaterializeResult(
        metadata={
            **table_metadata("cleaned_features", outcome.rows_written),
            "rows_in": report.rows_in,
            "rows_out": report.rows_out,
            "imputed": report.imputed,
            "excluded": report.excluded,
            "imputation_reference": outcome.reference,
            "quality_report": dg.MetadataValue.md(report.to_markdown(f"Data quality of {period.key}")),
        },
        check_results=[check_result(outcome.verdict)],
    )


@dg.asset(
    partitions_def=semester_partitions,
    group_name="monitoring",
    kinds={"python", "scipy", "sql"},
    owners=ML_OWNERS,
    deps=[cleaned_features],
    description="Per-feature drift of the semester against the champion model's training data "
                "(test by type and size, effect-size thresholds, PSI). Writes table drift_metrics.",
    check_specs=[dg.AssetCheckSpec(checks.NO_DATASET_DRIFT, asset="drift_metrics",
                                   description="The semester looks like the champion's training data.")],
)
def drift_metrics(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    outcome = pipeline.measure_drift(gradewatch.engine(), period_of(context))
    features = outcome.report.features if outcome.report else []
    metadata: dict[str, object] = {
        **table_metadata("drift_metrics", len(features)),
        "reference_version": str(outcome.reference_version),
        "dataset_drift": outcome.drifted,
        "drifted_features": outcome.verdict.metadata["drifted_features"],
    }
    if outcome.report:
        metadata["drift"] = dg.MetadataValue.md(drift_table(outcome.report))
    else:
        metadata["note"] = outcome.reason
    return dg.MaterializeResult(metadata=metadata, check_results=[check_result(outcome.verdict)])


@dg.asset(
    partitions_def=semester_partitions,
    group_name="predictions",
    kinds={"python", "scikit-learn", "sql"},
    owners=ML_OWNERS,
    deps=[cleaned_features],
    description="Predicted final grade, 90% interval, probability of failing and at-risk flag for "
                "every student without a final grade, by the champion model. Writes table "
                "grade_predictions and the prediction columns of student_reports (the report).",
)
def grade_predictions(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    outcome = pipeline.predict_semester(gradewatch.engine(), period_of(context), gradewatch.settings())
    return dg.MaterializeResult(metadata={
        **table_metadata("grade_predictions", outcome.predicted),
        "model_version": str(outcome.model_version),
        "shadow_version": str(outcome.shadow_version),
        "students_predicted": outcome.predicted,
        "students_at_risk": outcome.at_risk,
        "note": outcome.reason or "report ready",
    })


@dg.asset(
    partitions_def=semester_partitions,
    group_name="monitoring",
    kinds={"python", "sql"},
    owners=ML_OWNERS,
    # Every table it reads: the predictions, the reports (coverage), and the cleaned rows, whose
    # final grades it scores. Without cleaned_features here, an evaluation run could score the
    # cleaned rows of the prediction run, which have no grades, and measure nothing.
    deps=[grade_predictions, student_reports, cleaned_features],
    description="Accuracy of the semester's predictions once final grades are in: MAE, RMSE, R², "
                "interval coverage, at-risk precision/recall/F1, by gender. Writes table "
                "model_performance.",
    check_specs=[dg.AssetCheckSpec(checks.ACCURACY_WITHIN_TOLERANCE, asset="model_performance",
                                   description="MAE within GRADEWATCH_ACCURACY_TOLERANCE times the "
                                               "model's validation MAE."),
                 # Blocking: an evaluation that measured nothing fails its run, so the retraining
                 # decision never runs on it and the semester is evaluated again.
                 dg.AssetCheckSpec(checks.ACCURACY_MEASURED, asset="model_performance", blocking=True,
                                   description="Every student with a prediction and a final grade could "
                                               "be scored (not zero of them)."),
                 dg.AssetCheckSpec(trust_checks.FAIRNESS_WITHIN_TOLERANCE, asset="model_performance",
                                   description="At-risk recall gap between genders within "
                                               "GRADEWATCH_FAIRNESS_MAX_GAP (with enough failing students).")],
)
def model_performance(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    outcome = pipeline.evaluate_semester(gradewatch.engine(), period_of(context), gradewatch.settings())
    rows = (0 if outcome.evaluation is None else 1) + (0 if outcome.shadow is None else 1)
    return dg.MaterializeResult(
        metadata={**table_metadata("model_performance", rows), **evaluation_metadata(outcome)},
        check_results=[check_result(outcome.verdict), check_result(outcome.measured), check_result(outcome.fairness)],
    )


@dg.asset(
    partitions_def=semester_partitions,
    group_name="monitoring",
    kinds={"python", "scikit-learn", "sql"},
    owners=ML_OWNERS,
    deps=[grade_predictions],
    description="The champion's expected MAE on the students still without a final grade, estimated "
                "without labels (direct loss estimation), with its interval. Writes table "
                "performance_estimates; the realised MAE is written beside it once grades arrive.",
    check_specs=[dg.AssetCheckSpec(trust_checks.ACCURACY_EXPECTED_WITHIN_TOLERANCE, asset="estimated_performance",
                                   description="Estimated MAE within GRADEWATCH_ACCURACY_TOLERANCE times "
                                               "the model's validation MAE.")],
)
def estimated_performance(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    outcome = pipeline.estimate_semester(gradewatch.engine(), period_of(context), gradewatch.settings())
    metadata: dict[str, object] = {
        **table_metadata("performance_estimates", 0 if outcome.estimate is None else 1),
        "model_version": str(outcome.model_version),
        "validation_mae": str(outcome.validation_mae),
    }
    if outcome.estimate is None:
        metadata["note"] = outcome.reason
    else:
        metadata.update({"estimated_mae": dg.MetadataValue.float(round(outcome.estimate.estimated_mae, 4)),
                         "interval": f"{outcome.estimate.lower:.2f} to {outcome.estimate.upper:.2f}",
                         "students": outcome.estimate.n_students, "method": outcome.estimate.method})
    return dg.MaterializeResult(metadata=metadata, check_results=[check_result(outcome.verdict)])
