"""The semester assets: the uploaded reports, their cleaned features, drift, predictions and
accuracy. Each is a thin shell over one function of ``gradewatch.pipeline``."""

# No "from __future__ import annotations" in the Dagster modules: Dagster inspects the context
# and resource parameter annotations at definition time, so they must be real classes.
import dagster as dg

from gradewatch import pipeline
from gradewatch.monitoring.alerts import alert
from gradewatch.storage.semesters import semester_status
from gradewatch_assets.metadata import drift_table, evaluation_metadata
from gradewatch_assets.partitions import period_of, semester_partitions
from gradewatch_assets.resources import GradewatchResource

MAX_EXCLUDED_SHARE = 0.05  # more than 5% of a semester unusable is worth a look


@dg.asset(
    partitions_def=semester_partitions,
    group_name="intake",
    description="The semester's student reports as uploaded (POST /update-csv, the upload page or "
                "the inbox): observed here, written by the upload path. Row count and final-grade "
                "coverage.",
)
def student_reports(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    status = semester_status(gradewatch.engine(), period_of(context))
    return dg.MaterializeResult(
        metadata={
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
    deps=[student_reports],
    description="Rows cleaned of human errors (ranges, sentinels, scales, duplicates, typos), with "
                "imputations flagged and unusable rows excluded. Writes table cleaned_features.",
    check_specs=[dg.AssetCheckSpec("excluded_rows_within_limit", asset="cleaned_features",
                                   description=f"At most {MAX_EXCLUDED_SHARE:.0%} of the rows "
                                               "are too damaged to predict.")],
)
def cleaned_features(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    period = period_of(context)
    outcome = pipeline.clean_semester_rows(gradewatch.engine(), period)
    report = outcome.report
    passed = outcome.excluded_share <= MAX_EXCLUDED_SHARE
    if not passed:
        alert("data_quality", "warning",
              f"{report.excluded} of {report.rows_in} rows of {period.key} are too damaged to predict "
              f"({outcome.excluded_share:.1%})", semester=period.key)
    return dg.MaterializeResult(
        metadata={
            "rows_in": report.rows_in,
            "rows_out": report.rows_out,
            "imputed": report.imputed,
            "excluded": report.excluded,
            "imputation_reference": outcome.reference,
            "quality_report": dg.MetadataValue.md(report.to_markdown(f"Data quality of {period.key}")),
        },
        check_results=[dg.AssetCheckResult(
            check_name="excluded_rows_within_limit", passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"excluded_share": round(outcome.excluded_share, 4)},
        )],
    )


@dg.asset(
    partitions_def=semester_partitions,
    group_name="monitoring",
    deps=[cleaned_features],
    description="Per-feature drift of the semester against the champion model's training data "
                "(test by type and size, effect-size thresholds, PSI). Writes table drift_metrics.",
    check_specs=[dg.AssetCheckSpec("no_dataset_drift", asset="drift_metrics",
                                   description="The semester looks like the champion's training data.")],
)
def drift_metrics(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    period = period_of(context)
    outcome = pipeline.measure_drift(gradewatch.engine(), period)
    drifted = outcome.report.drifted_features if outcome.report else []
    if outcome.drifted:
        alert("drift_detected", "warning",
              f"drift in {period.key} against model {outcome.reference_version}: {', '.join(drifted)}",
              semester=period.key, model_version=outcome.reference_version, features=drifted)
    metadata: dict[str, object] = {"reference_version": str(outcome.reference_version),
                                   "dataset_drift": outcome.drifted, "drifted_features": ", ".join(drifted)}
    if outcome.report:
        metadata["drift"] = dg.MetadataValue.md(drift_table(outcome.report))
    else:
        metadata["note"] = outcome.reason
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[dg.AssetCheckResult(
            check_name="no_dataset_drift", passed=not outcome.drifted,
            severity=dg.AssetCheckSeverity.WARN, metadata={"drifted_features": ", ".join(drifted)},
        )],
    )


@dg.asset(
    partitions_def=semester_partitions,
    group_name="predictions",
    deps=[cleaned_features],
    description="Predicted final grade, 90% interval, probability of failing and at-risk flag for "
                "every student without a final grade, by the champion model. Writes table "
                "grade_predictions and the prediction columns of student_reports (the report).",
)
def grade_predictions(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    outcome = pipeline.predict_semester(gradewatch.engine(), period_of(context), gradewatch.settings())
    return dg.MaterializeResult(metadata={
        "model_version": str(outcome.model_version),
        "students_predicted": outcome.predicted,
        "students_at_risk": outcome.at_risk,
        "note": outcome.reason or "report ready",
    })


@dg.asset(
    partitions_def=semester_partitions,
    group_name="monitoring",
    deps=[grade_predictions, student_reports],
    description="Accuracy of the semester's predictions once final grades are in: MAE, RMSE, R², "
                "interval coverage, at-risk precision/recall/F1, by gender. Writes table "
                "model_performance.",
    check_specs=[dg.AssetCheckSpec("accuracy_within_tolerance", asset="model_performance",
                                   description="MAE within GRADEWATCH_ACCURACY_TOLERANCE times the "
                                               "model's validation MAE.")],
)
def model_performance(context: dg.AssetExecutionContext, gradewatch: GradewatchResource) -> dg.MaterializeResult:
    period = period_of(context)
    settings = gradewatch.settings()
    outcome = pipeline.evaluate_semester(gradewatch.engine(), period, settings)
    degraded = outcome.within_tolerance is False
    if degraded and outcome.evaluation is not None:
        alert("accuracy_degraded", "error",
              f"model {outcome.model_version} on {period.key}: MAE {outcome.evaluation.overall.mae:.2f} "
              f"exceeds {settings.accuracy_tolerance:g} x validation MAE {outcome.validation_mae:.2f}",
              semester=period.key, model_version=outcome.model_version)
    return dg.MaterializeResult(
        metadata=evaluation_metadata(outcome),
        check_results=[dg.AssetCheckResult(
            check_name="accuracy_within_tolerance", passed=not degraded,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"within_tolerance": str(outcome.within_tolerance)},
        )],
    )
