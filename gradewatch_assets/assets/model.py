"""The model assets: the graded history selected for training, and the champion chosen from it."""


import dagster as dg

from gradewatch import pipeline
from gradewatch.monitoring import trust_checks
from gradewatch_assets.assets.semester import cleaned_features, drift_metrics, model_performance
from gradewatch_assets.metadata import ML_OWNERS, check_result, table_metadata
from gradewatch_assets.resources import GradewatchResource


@dg.asset(
    group_name="models",
    kinds={"python", "pandas", "sql"},
    owners=ML_OWNERS,
    deps=[cleaned_features, model_performance],
    description="All graded history: every usable cleaned row that has a final grade, over all "
                "semesters. The training data of the next challenger; the selection (semesters, "
                "rows, a digest of the content) is written to table training_sets.",
)
def training_set(gradewatch: GradewatchResource) -> dg.MaterializeResult:
    selection = pipeline.select_training_set(gradewatch.engine())
    return dg.MaterializeResult(
        metadata={
            **table_metadata("training_sets", 1 if selection.new else 0),
            "rows": selection.rows,
            "semesters": dg.MetadataValue.json([s.key for s in selection.semesters]),
            "content_sha256": selection.content_sha256,
        },
        data_version=dg.DataVersion(selection.content_sha256),
    )


@dg.asset(
    group_name="models",
    kinds={"python", "scikit-learn", "sql"},
    owners=ML_OWNERS,
    # training_set for ordering; cleaned_features because the decision reads the graded history
    # (and the holdout semester) from it itself; the registry it also reads is its own output.
    deps=[training_set, cleaned_features, drift_metrics, model_performance],
    description="The retraining decision (gradewatch/retraining.py): with drift, degraded accuracy or "
                "a graded history grown by GRADEWATCH_RETRAIN_GROWTH, a challenger is trained, and it (or "
                "the shadow) is promoted only when better with 95% confidence on students neither model "
                "was trained on, and better than the naive baselines. Writes table model_versions.",
    check_specs=[dg.AssetCheckSpec(trust_checks.MODEL_INFORMATIVE, asset="trained_model",
                                   description="The champion beats the naive baselines (mean grade; "
                                               "previous grade) by GRADEWATCH_BASELINE_MIN_GAIN.")],
)
def trained_model(gradewatch: GradewatchResource) -> dg.MaterializeResult:
    decision = pipeline.retraining_decision(gradewatch.engine(), gradewatch.settings())
    registered = 0 if decision.challenger is None or decision.action in ("not_needed", "already_decided") else 1
    return dg.MaterializeResult(check_results=[check_result(decision.verdict)], metadata={
        **table_metadata("model_versions", registered),
        "decision": decision.action,
        "reason": decision.reason,
        "champion": str(decision.champion_after),
        "previous_champion": str(decision.champion_before),
        "challenger": str(decision.challenger),
        "figures": dg.MetadataValue.json(decision.figures),
    })
