"""Fairness by gender of the at-risk list (issue 14, item 7).

Per gender the evaluation already has at-risk recall (the share of failing students who were
flagged), false-positive rate (the share of passing students flagged anyway) and precision.
The rule: alert ``fairness_gap`` when the largest gap in at-risk recall between two genders
exceeds ``GRADEWATCH_FAIRNESS_MAX_GAP`` (default 0.10), comparing only genders with at least
``min_failing`` (30) failing students, because a recall measured on a handful of failures is
noise (with 10 failures one student moves it by 0.10).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gradewatch.monitoring.evaluation import Evaluation
from gradewatch.settings import Settings

MIN_FAILING = 30


@dataclass(frozen=True)
class FairnessVerdict:
    recall_gap: float | None  # None when fewer than two genders have enough failing students
    groups: tuple[str, str] | None  # (lowest recall, highest recall)
    compared: dict[str, dict[str, Any]]  # gender -> failing, recall, false-positive rate, precision
    max_gap: float

    @property
    def breached(self) -> bool:
        return self.recall_gap is not None and self.recall_gap > self.max_gap

    def describe(self) -> str:
        if self.recall_gap is None or self.groups is None:
            return f"too few failing students to compare genders (need {MIN_FAILING} in each of two)"
        low, high = self.groups
        return (f"at-risk recall {self.compared[low]['recall']:.0%} for {low} vs "
                f"{self.compared[high]['recall']:.0%} for {high}: gap {self.recall_gap:.2f} "
                f"(tolerated {self.max_gap:.2f})")


def no_fairness_verdict(settings: Settings) -> FairnessVerdict:
    """Nothing to compare (no graded predictions): no gap, which passes."""
    return FairnessVerdict(None, None, {}, settings.fairness_max_gap)


def fairness_verdict(evaluation: Evaluation, max_gap: float, *, min_failing: int = MIN_FAILING) -> FairnessVerdict:
    """The recall gap between genders with at least ``min_failing`` failing students."""
    compared = {
        gender: {"failing": m.n_failing, "recall": m.at_risk_recall, "false_positive_rate": m.at_risk_fpr,
                 "precision": m.at_risk_precision}
        for gender, m in evaluation.by_gender.items()
        if m.n_failing >= min_failing and m.at_risk_recall is not None
    }
    if len(compared) < 2:
        return FairnessVerdict(None, None, compared, max_gap)
    low = min(compared, key=lambda g: compared[g]["recall"])
    high = max(compared, key=lambda g: compared[g]["recall"])
    return FairnessVerdict(compared[high]["recall"] - compared[low]["recall"], (low, high), compared, max_gap)
