"""Accuracy once final grades arrive: overall, by gender, and the "still accurate?" rule.

Metrics per semester and model version: MAE, RMSE, R², interval coverage (share of final
grades inside the 90% interval), and at-risk precision, recall and F1, where a student truly
is at risk when the final grade is below the pass mark. The same metrics are computed per
gender; the largest gap between two genders is reported per metric, over the genders with at
least ``min_group_size`` graded students (smaller groups are listed but too noisy to compare).

Calibration (Brier score, expected calibration error, reliability table) is of
``probability_below_pass`` when the frame has it (monitoring/calibration.py); fairness rules on
the by-gender figures live in monitoring/fairness.py.

Tolerance rule (``ToleranceRule``; the factor is ``GRADEWATCH_ACCURACY_TOLERANCE``, default
1.25): the model is still accurate on a semester when

    semester MAE <= factor x the model's cross-validated MAE at training time.

With fewer than ``min_students`` graded students the rule gives no verdict (None): a handful
of grades cannot show that a model degraded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gradewatch.monitoring.calibration import Calibration, calibration
from gradewatch.settings import Settings

METRICS = (
    "mae", "rmse", "r2", "interval_coverage", "at_risk_precision", "at_risk_recall", "at_risk_f1",
)
REQUIRED = ("final_grade", "predicted_grade", "interval_lower", "interval_upper", "at_risk")


@dataclass(frozen=True)
class GroupMetrics:
    n: int
    mae: float | None
    rmse: float | None
    r2: float | None
    interval_coverage: float | None
    at_risk_precision: float | None
    at_risk_recall: float | None
    at_risk_f1: float | None
    n_failing: int = 0  # graded students below the pass mark
    at_risk_fpr: float | None = None  # share of passing students flagged at risk anyway


@dataclass(frozen=True)
class Evaluation:
    n_students: int  # students with a final grade
    grade_coverage: float | None  # share of predicted students whose final grade is in
    overall: GroupMetrics
    by_gender: dict[str, GroupMetrics]
    max_gender_gap: dict[str, dict[str, Any] | None]  # metric -> {"gap", "groups": [a, b]}
    calibration: Calibration = field(default_factory=lambda: Calibration(None, None, []))  # of P(fail)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_record(self) -> dict[str, Any]:
        """The columns of a ``model_performance`` row."""
        return {"n_students": self.n_students, "grade_coverage": self.grade_coverage,
                **{name: getattr(self.overall, name) for name in METRICS},
                "by_gender": self.to_dict()["by_gender"], "max_gender_gap": self.max_gender_gap,
                "brier_score": self.calibration.brier_score,
                "calibration_error": self.calibration.calibration_error,
                "reliability": self.calibration.reliability}


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def group_metrics(truth: np.ndarray, frame: pd.DataFrame, pass_mark: float) -> GroupMetrics:
    n = int(truth.size)
    if n == 0:
        return GroupMetrics(0, None, None, None, None, None, None, None)
    predicted = frame["predicted_grade"].to_numpy(dtype="float64")
    errors = truth - predicted
    total = float(np.sum((truth - truth.mean()) ** 2))
    inside = (truth >= frame["interval_lower"].to_numpy(dtype="float64")) & (
        truth <= frame["interval_upper"].to_numpy(dtype="float64")
    )
    flagged = frame["at_risk"].to_numpy(dtype=bool)
    failing = truth < pass_mark
    hits = float(np.sum(flagged & failing))
    precision = _ratio(hits, float(flagged.sum()))
    recall = _ratio(hits, float(failing.sum()))
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else (0.0 if precision is not None and recall is not None else None)
    )
    return GroupMetrics(
        n=n,
        mae=float(np.mean(np.abs(errors))),
        rmse=float(np.sqrt(np.mean(errors**2))),
        r2=float(1 - np.sum(errors**2) / total) if n > 1 and total > 0 else None,
        interval_coverage=float(inside.mean()),
        at_risk_precision=precision,
        at_risk_recall=recall,
        at_risk_f1=f1,
        n_failing=int(failing.sum()),
        at_risk_fpr=_ratio(float(np.sum(flagged & ~failing)), float(np.sum(~failing))),
    )


def _largest_gaps(groups: dict[str, GroupMetrics], min_size: int) -> dict[str, dict[str, Any] | None]:
    comparable = {g: m for g, m in groups.items() if m.n >= min_size}
    gaps: dict[str, dict[str, Any] | None] = {}
    for metric in METRICS:
        values = {g: getattr(m, metric) for g, m in comparable.items() if getattr(m, metric) is not None}
        if len(values) < 2:
            gaps[metric] = None
            continue
        low = min(values, key=values.__getitem__)
        high = max(values, key=values.__getitem__)
        gaps[metric] = {"gap": values[high] - values[low], "groups": [low, high]}
    return gaps


def evaluate(frame: pd.DataFrame, pass_mark: float, *, min_group_size: int = 20) -> Evaluation:
    """Evaluate predictions against final grades.

    ``frame`` has one row per predicted student: ``final_grade`` (NaN while missing), the
    prediction columns of :meth:`TrainedModel.predict`, and optionally ``gender``.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"evaluation needs columns {', '.join(missing)}")
    truth_all = pd.to_numeric(frame["final_grade"], errors="coerce").to_numpy(dtype="float64")
    graded = np.isfinite(truth_all)
    rows = frame.loc[graded]
    truth = truth_all[graded]
    by_gender: dict[str, GroupMetrics] = {}
    if "gender" in frame.columns:
        genders = rows["gender"].astype(object).where(rows["gender"].notna(), "unknown").astype(str)
        for name in sorted(genders.unique()):
            mask = (genders == name).to_numpy()
            by_gender[name] = group_metrics(truth[mask], rows.loc[mask], pass_mark)
    return Evaluation(
        n_students=int(graded.sum()),
        grade_coverage=_ratio(float(graded.sum()), float(len(frame))),
        overall=group_metrics(truth, rows, pass_mark),
        by_gender=by_gender,
        max_gender_gap=_largest_gaps(by_gender, min_group_size),
        calibration=(calibration(rows["probability_below_pass"].to_numpy(dtype="float64"), truth < pass_mark)
                     if "probability_below_pass" in rows.columns else Calibration(None, None, [])),
    )


@dataclass(frozen=True)
class ToleranceRule:
    factor: float = 1.25
    min_students: int = 30

    @classmethod
    def from_settings(cls, settings: Settings, *, min_students: int = 30) -> ToleranceRule:
        return cls(factor=settings.accuracy_tolerance, min_students=min_students)

    def within(self, evaluation: Evaluation, validation_mae: float) -> bool | None:
        """True while accurate, False once the model stopped being accurate, None if unknown."""
        return self.allows(evaluation.overall.mae, evaluation.n_students, validation_mae)

    def allows(self, mae: float | None, n_students: int, validation_mae: float) -> bool | None:
        """The rule on a bare MAE (measured, or estimated before the grades arrive)."""
        if mae is None or n_students < self.min_students:
            return None
        return mae <= self.factor * validation_mae
