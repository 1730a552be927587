"""Is the challenger really better? A paired comparison on the same students (issue 14, item 2).

Both models predict the same graded students (semesters neither was trained on); the evidence is
the per-student difference of absolute errors ``d = |e_champion| - |e_challenger|`` (positive
where the challenger is closer). The MAE difference is ``mean(d)``; its 95% confidence interval
comes from a paired bootstrap (students resampled with replacement, both models' errors kept
together, so what the two models share, a hard student, cancels out). The Wilcoxon signed-rank
p-value is reported beside it for readers who expect a test.

Rule: promote only when the challenger is better with 95% confidence (the interval's lower
bound is above zero) AND by at least ``min_improvement`` (1%) of the champion's MAE. A 1%
difference on one semester of a few hundred students is well inside the noise; this rule keeps
such a challenger out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

TEST_NAME = "paired_bootstrap_mae_difference"
MIN_IMPROVEMENT = 0.01
CONFIDENCE = 0.95
RESAMPLES = 2000
_CHUNK = 200  # resamples drawn at once: bounded memory on 100k students


@dataclass(frozen=True)
class PairedComparison:
    test: str
    n_students: int
    semesters: list[str]
    champion_mae: float
    challenger_mae: float
    mae_difference: float  # champion - challenger: positive when the challenger is better
    interval: tuple[float, float]  # CONFIDENCE bootstrap interval of mae_difference
    confidence: float
    wilcoxon_p_value: float | None
    min_improvement: float

    @property
    def relative_improvement(self) -> float:
        return self.mae_difference / self.champion_mae if self.champion_mae > 0 else 0.0

    @property
    def challenger_better(self) -> bool:
        """Better with ``confidence`` and by at least ``min_improvement`` of the champion's MAE."""
        return self.interval[0] > 0 and self.relative_improvement >= self.min_improvement

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "interval": list(self.interval),
                "relative_improvement": self.relative_improvement,
                "challenger_better": self.challenger_better}

    def describe(self) -> str:
        low, high = self.interval
        return (f"on {self.n_students} students of {len(self.semesters)} semester(s): challenger MAE "
                f"{self.challenger_mae:.2f} vs champion {self.champion_mae:.2f}; difference "
                f"{self.mae_difference:+.2f} ({self.confidence:.0%} interval {low:+.2f} to {high:+.2f})")


def paired_comparison(
    champion_errors: np.ndarray,
    challenger_errors: np.ndarray,
    semesters: Sequence[str],
    *,
    confidence: float = CONFIDENCE,
    min_improvement: float = MIN_IMPROVEMENT,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """Compare two models' absolute errors on the same students (same order in both arrays)."""
    a = np.abs(np.asarray(champion_errors, dtype="float64"))
    b = np.abs(np.asarray(challenger_errors, dtype="float64"))
    if a.shape != b.shape or a.size == 0:
        raise ValueError("a paired comparison needs the same, non-empty set of students for both models")
    d = a - b
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        means.append(d[rng.integers(0, d.size, size=(size, d.size))].mean(axis=1))
    boot = np.concatenate(means)
    tail = (1 - confidence) / 2
    interval = (float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail)))
    p_value = float(wilcoxon(d).pvalue) if np.any(d != 0) else None
    return PairedComparison(TEST_NAME, int(d.size), list(semesters), float(a.mean()), float(b.mean()),
                            float(d.mean()), interval, confidence, p_value, min_improvement)
