"""The platform's checks: named rules, each giving a verdict, and the alert a failing one raises.

Every rule and threshold lives here, in the core, so that whatever runs a semester (the Dagster
assets and schedules, the demo, the CLI, a benchmark) reaches the same verdicts and raises the
same alerts. The Dagster shell only turns a :class:`Verdict` into an asset check result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gradewatch.monitoring.alerts import alert

# Check names, as the Dagster UI shows them.
EXCLUDED_ROWS_WITHIN_LIMIT = "excluded_rows_within_limit"
NO_DATASET_DRIFT = "no_dataset_drift"
ACCURACY_WITHIN_TOLERANCE = "accuracy_within_tolerance"
ACCURACY_MEASURED = "accuracy_measured"
GRADES_COMPLETE = "grades_complete"

MAX_EXCLUDED_SHARE = 0.05  # more than 5% of a semester unusable is worth a look

Severity = Literal["warning", "error"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check on one semester, and what to tell the ML engineer if it failed."""

    check: str
    passed: bool
    severity: Severity
    alert_kind: str
    message: str  # what went wrong, in words; empty when the check passed
    metadata: dict[str, Any] = field(default_factory=dict)  # figures shown beside the verdict
    context: dict[str, Any] = field(default_factory=dict)  # fields of the alert record

    def alert_if_failed(self) -> None:
        if not self.passed:
            alert(self.alert_kind, self.severity, self.message, **self.context)


def excluded_rows_verdict(semester: str, rows_in: int, excluded: int) -> Verdict:
    share = excluded / rows_in if rows_in else 0.0
    passed = share <= MAX_EXCLUDED_SHARE
    message = "" if passed else (
        f"{excluded} of {rows_in} rows of {semester} are too damaged to predict ({share:.1%})")
    return Verdict(EXCLUDED_ROWS_WITHIN_LIMIT, passed, "warning", "data_quality", message,
                   {"excluded_share": round(share, 4)}, {"semester": semester})


def drift_verdict(semester: str, reference_version: str | None, drifted_features: list[str]) -> Verdict:
    passed = not drifted_features
    message = "" if passed else (
        f"drift in {semester} against model {reference_version}: {', '.join(drifted_features)}")
    return Verdict(NO_DATASET_DRIFT, passed, "warning", "drift_detected", message,
                   {"drifted_features": ", ".join(drifted_features)},
                   {"semester": semester, "model_version": reference_version, "features": drifted_features})


def accuracy_verdict(semester: str, model_version: str | None, within_tolerance: bool | None, *,
                     mae: float | None = None, validation_mae: float | None = None,
                     tolerance: float | None = None) -> Verdict:
    """Accuracy against the tolerance rule; ``within_tolerance`` None means no verdict (too few
    graded students, or no validation error to compare with), which does not fail the check."""
    passed = within_tolerance is not False
    message = "" if passed else (
        f"model {model_version} on {semester}: MAE {mae:.2f} exceeds {tolerance:g} x validation MAE "
        f"{validation_mae:.2f}")
    return Verdict(ACCURACY_WITHIN_TOLERANCE, passed, "error", "accuracy_degraded", message,
                   {"within_tolerance": str(within_tolerance)},
                   {"semester": semester, "model_version": model_version})


def accuracy_measured_verdict(semester: str, measured: int, measurable: int) -> Verdict:
    """An evaluation must measure the students who have both a prediction and a final grade.

    ``measurable`` counts them in the uploaded reports; ``measured`` is how many the evaluation
    found with a cleaned grade. Nothing measured although some were measurable means the
    evaluation read its inputs before they were ready: it fails, so that nothing downstream
    takes "no row" for "all is well", and the semester is evaluated again.
    """
    passed = measured > 0 or measurable == 0
    message = "" if passed else (
        f"the evaluation of {semester} measured nothing although {measurable} students have a prediction "
        "and a final grade (their cleaned rows carry no grade yet); it will be evaluated again")
    return Verdict(ACCURACY_MEASURED, passed, "error", "accuracy_not_measured", message,
                   {"students_measured": measured, "students_measurable": measurable}, {"semester": semester})


def grade_coverage_verdict(semester: str, ended: str, students: int, coverage: float,
                           min_coverage: float) -> Verdict:
    """After the grace period, at least ``min_coverage`` of the students must have a final grade."""
    passed = coverage >= min_coverage
    message = "" if passed else (
        f"{semester} ended {ended}; only {coverage:.0%} of its {students} students have a final grade "
        f"(expected at least {min_coverage:.0%})")
    return Verdict(GRADES_COMPLETE, passed, "warning", "final_grades_missing", message,
                   {"grade_coverage": round(coverage, 4)}, {"semester": semester, "coverage": coverage})
