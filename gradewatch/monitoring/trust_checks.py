"""The checks of issue 14, as :class:`~gradewatch.monitoring.checks.Verdict` objects: is the
model better than a rule of thumb, is its at-risk list as good for every gender, and is its
accuracy expected to hold on a semester whose grades have not arrived."""

from __future__ import annotations

from gradewatch.models.baselines import Informativeness
from gradewatch.monitoring.checks import Verdict
from gradewatch.monitoring.estimate import PerformanceEstimate
from gradewatch.monitoring.fairness import FairnessVerdict

MODEL_INFORMATIVE = "model_beats_naive_baselines"
FAIRNESS_WITHIN_TOLERANCE = "at_risk_recall_gap_within_tolerance"
ACCURACY_EXPECTED_WITHIN_TOLERANCE = "estimated_accuracy_within_tolerance"


def informative_verdict(model_version: str, verdict: Informativeness, *, semester: str | None = None) -> Verdict:
    """ERROR ``model_not_informative`` when the model does not beat the better naive baseline;
    unknown (no baseline figures) passes."""
    passed = verdict.informative is not False
    message = "" if passed else (
        f"model {model_version} is not informative: its {verdict.describe()}; it is served, but its "
        "at-risk list is no better than a rule of thumb")
    return Verdict(MODEL_INFORMATIVE, passed, "error", "model_not_informative", message,
                   {"informative": str(verdict.informative), "model_cv_mae": verdict.model_mae,
                    "best_baseline": str(verdict.best_baseline), "best_baseline_cv_mae": verdict.best_baseline_mae},
                   {"model_version": model_version, "semester": semester, **verdict.to_dict()})


def fairness_check(semester: str, model_version: str | None, verdict: FairnessVerdict) -> Verdict:
    """WARNING ``fairness_gap`` when the at-risk recall gap between genders is too large."""
    message = "" if not verdict.breached else (
        f"model {model_version} on {semester}: {verdict.describe()}")
    return Verdict(FAIRNESS_WITHIN_TOLERANCE, not verdict.breached, "warning", "fairness_gap", message,
                   {"recall_gap": verdict.recall_gap, "genders_compared": ", ".join(sorted(verdict.compared))},
                   {"semester": semester, "model_version": model_version, "recall_gap": verdict.recall_gap,
                    "by_gender": verdict.compared})


def estimate_check(semester: str, model_version: str, estimate: PerformanceEstimate | None,
                   within: bool | None, *, validation_mae: float | None, tolerance: float) -> Verdict:
    """WARNING ``accuracy_expected_to_degrade`` when the label-free estimate breaks the rule the
    realised accuracy is held to; no estimate, or too few students, passes."""
    passed = within is not False
    message = "" if passed or estimate is None or validation_mae is None else (
        f"model {model_version} on {semester} before its grades: estimated MAE {estimate.estimated_mae:.2f} "
        f"(95% interval {estimate.lower:.2f} to {estimate.upper:.2f}) exceeds {tolerance:g} x validation "
        f"MAE {validation_mae:.2f}")
    figures = estimate.to_dict() if estimate else {}
    return Verdict(ACCURACY_EXPECTED_WITHIN_TOLERANCE, passed, "warning", "accuracy_expected_to_degrade", message,
                   {"estimated_mae": figures.get("estimated_mae"), "within_tolerance": str(within)},
                   {"semester": semester, "model_version": model_version, **figures})
