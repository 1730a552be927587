"""The model assets: the graded history, and the champion chosen from it."""


import dagster as dg

from gradewatch import pipeline
from gradewatch_assets.assets.semester import cleaned_features, drift_metrics, model_performance
from gradewatch_assets.resources import GradewatchResource


@dg.asset(
    group_name="models",
    deps=[cleaned_features, model_performance],
    description="All graded history: every usable cleaned row that has a final grade, over all "
                "semesters. The training data of the next challenger.",
)
def training_set(gradewatch: GradewatchResource) -> dg.MaterializeResult:
    history = pipeline.graded_history(gradewatch.engine())
    semesters = pipeline.semesters_of(history) if not history.empty else []
    return dg.MaterializeResult(metadata={
        "rows": len(history),
        "semesters": dg.MetadataValue.json([s.key for s in semesters]),
    })


@dg.asset(
    group_name="models",
    deps=[training_set, drift_metrics, model_performance],
    description="The retraining decision: with drift or degraded accuracy on the newest graded "
                "semester, a challenger is trained on all graded history and promoted only if it "
                "beats the champion there. Writes table model_versions.",
)
def trained_model(gradewatch: GradewatchResource) -> dg.MaterializeResult:
    decision = pipeline.retraining_decision(gradewatch.engine(), gradewatch.settings())
    return dg.MaterializeResult(metadata={
        "decision": decision.action,
        "reason": decision.reason,
        "champion": str(decision.champion_after),
        "previous_champion": str(decision.champion_before),
        "challenger": str(decision.challenger),
        "figures": dg.MetadataValue.json(decision.figures),
    })
