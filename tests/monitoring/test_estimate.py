"""The label-free MAE estimate (direct loss estimation) against the realised MAE, on held-out
generated semesters with covariate shifts of known size (issue 14, item 5)."""

from __future__ import annotations

import numpy as np
import pytest

from gradewatch.models.features import model_feature_spec
from gradewatch.models.training import SearchConfig, TrainedModel, train_model
from gradewatch.monitoring.estimate import estimate_mae
from gradewatch.monitoring.evaluation import ToleranceRule
from tests.support.gradegen import make_semester, shifted_support

QUICK = SearchConfig(families=("ridge", "hist_gradient_boosting"), n_iter=2, cv=5)
UNSTEADY = 0.5  # students who miss classes are less predictable (tests/support/gradegen.py)
# (attendance shift in SDs, extra share of high parental support): ten semesters, 0 to 3 SDs.
SHIFTS = [(0, 0), (-0.25, 0), (-0.5, 0.1), (-0.75, 0), (-1, 0), (-1.25, 0.15), (-1.5, 0), (-2, 0),
          (-2.5, 0.1), (-3, 0)]
STRONG = -2  # at or beyond 2 SDs the realised MAE is well above 1.25 x the validation MAE


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return train_model(make_semester(3000, seed=11, unsteady=UNSTEADY), model_feature_spec(("gender",)),
                       config=QUICK)


def _semester(number: int, attendance: float, support: float):
    return make_semester(500, seed=100 + number, unsteady=UNSTEADY, attendance_shift_sd=attendance,
                         support_shares=shifted_support(support) if support else None)


def test_the_estimate_is_within_20_percent_of_the_realised_mae_in_80_percent_of_semesters(model) -> None:
    hits = []
    for number, (attendance, support) in enumerate(SHIFTS):
        semester = _semester(number, attendance, support)
        estimate = estimate_mae(model, semester)
        realised = float(np.mean(np.abs(semester["final_grade"] - model.predict_grades(semester))))
        hits.append(abs(estimate.estimated_mae - realised) <= 0.2 * realised)
        assert estimate.lower < estimate.estimated_mae < estimate.upper
    assert np.mean(hits) >= 0.8, hits


def test_strongly_shifted_semesters_break_the_tolerance_rule_before_their_grades(model) -> None:
    rule, validation = ToleranceRule(factor=1.25), model.metrics["cv_mae"]
    verdicts = {attendance: rule.allows(estimate_mae(model, _semester(n, attendance, s).drop(
        columns="final_grade")).estimated_mae, 500, validation) for n, (attendance, s) in enumerate(SHIFTS)}
    assert all(verdicts[a] is False for a in verdicts if a <= STRONG), verdicts
    assert verdicts[0] is True and verdicts[-0.25] is True


def test_no_estimate_without_a_loss_model(model) -> None:
    older = TrainedModel(**{**model.__dict__, "loss_model": None})
    assert estimate_mae(older, make_semester(50, seed=1)) is None
