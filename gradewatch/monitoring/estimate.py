"""Accuracy before the grades arrive: a label-free estimate of the champion's MAE (issue 14,
item 5), in the spirit of NannyML's direct loss estimation (DLE).

At training, a second model (``TrainedModel.loss_model``) learns each student's absolute
out-of-fold error from the indicators and the prediction. On a new semester, the mean of its
predictions is the estimated MAE. The interval is the sampling spread of a mean of ``n``
absolute errors (``z * sd / sqrt(n)``, sd = the spread of one student's absolute error at
training): the realised MAE of a semester varies that much even when the estimate is right.

What it can and cannot see: covariate shift towards students the model was already less sure
about (e.g. more low-attendance students) raises the estimate; a change in how the indicators
relate to the grade (concept drift), or a shift into a region absent from the training data,
does not. That is why the realised MAE is recorded beside the estimate once grades arrive.

The estimate is judged by the same tolerance rule as the real accuracy (``ToleranceRule``):
above ``GRADEWATCH_ACCURACY_TOLERANCE`` x the model's cross-validated MAE, alert
``accuracy_expected_to_degrade``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from scipy.stats import norm

from gradewatch.models.training import TrainedModel

METHOD = "direct_loss_estimation"


@dataclass(frozen=True)
class PerformanceEstimate:
    method: str
    n_students: int
    estimated_mae: float
    lower: float | None
    upper: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_mae(model: TrainedModel, frame: pd.DataFrame, *, confidence: float = 0.95) -> PerformanceEstimate | None:
    """The expected MAE of ``model`` on the rows of ``frame``; None without a loss model or rows."""
    if frame.empty:
        return None
    expected = model.expected_absolute_errors(frame)
    if expected is None:
        return None
    estimate = float(expected.mean())
    spread = model.metrics.get("cv_abs_error_sd")
    if spread is None:
        return PerformanceEstimate(METHOD, int(expected.size), estimate, None, None)
    half = float(norm.ppf(0.5 + confidence / 2)) * float(spread) / math.sqrt(expected.size)
    return PerformanceEstimate(METHOD, int(expected.size), estimate, max(estimate - half, 0.0), estimate + half)
