"""Is ``probability_below_pass`` a probability? Brier score, expected calibration error and a
reliability table (issue 14, item 6).

The reliability table cuts the predicted probabilities into ``bands`` equal-width bands
(0-10%, 10-20%, ...) and shows, per band, the mean predicted probability of failing and the
share of those students who did fail. The expected calibration error (ECE) is the students-
weighted mean of |predicted - observed| over the bands: 0 for a perfectly calibrated model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Calibration:
    brier_score: float | None
    calibration_error: float | None  # expected calibration error (ECE)
    reliability: list[dict[str, Any]] = field(default_factory=list)


def calibration(probability: np.ndarray, failed: np.ndarray, *, bands: int = 10) -> Calibration:
    """Calibration of predicted probabilities of failing against what happened (``failed``)."""
    p = np.asarray(probability, dtype="float64")
    y = np.asarray(failed, dtype=bool)
    if p.size == 0:
        return Calibration(None, None, [])
    band = np.minimum((p * bands).astype(int), bands - 1)
    table, ece = [], 0.0
    for b in range(bands):
        inside = band == b
        n = int(inside.sum())
        if n == 0:
            continue
        predicted, observed = float(p[inside].mean()), float(y[inside].mean())
        ece += n / p.size * abs(predicted - observed)
        table.append({"band": [b / bands, (b + 1) / bands], "n": n,
                      "mean_predicted": predicted, "observed_rate": observed})
    return Calibration(float(np.mean((p - y) ** 2)), float(ece), table)
