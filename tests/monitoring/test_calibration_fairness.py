"""Calibration of probability_below_pass and fairness by gender, on real trained models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gradewatch.models.features import model_feature_spec
from gradewatch.models.training import SearchConfig, TrainedModel, train_model
from gradewatch.monitoring.calibration import calibration
from gradewatch.monitoring.evaluation import evaluate
from gradewatch.monitoring.fairness import fairness_verdict
from tests.support.gradegen import make_semester

QUICK = SearchConfig(families=("ridge", "hist_gradient_boosting"), n_iter=2, cv=5)


@pytest.fixture(scope="module")
def blind_model() -> TrainedModel:
    """A model that never sees gender (the default GRADEWATCH_MODEL_EXCLUDED_FEATURES)."""
    return train_model(make_semester(3000, seed=11, female_effect=0.0), model_feature_spec(("gender",)),
                       config=QUICK)


def _evaluated(model: TrainedModel, semester: pd.DataFrame):
    scored = pd.concat([semester, model.predict(semester, 60)], axis=1)
    return evaluate(scored, pass_mark=60)


def test_the_reliability_table_and_ece_of_a_known_case() -> None:
    p = np.array([0.05] * 10 + [0.95] * 10)
    failed = np.array([False] * 10 + [True] * 9 + [False])
    result = calibration(p, failed)
    assert [row["n"] for row in result.reliability] == [10, 10]
    assert result.reliability[1]["observed_rate"] == pytest.approx(0.9)
    assert result.calibration_error == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    assert result.brier_score == pytest.approx((10 * 0.05**2 + 9 * 0.05**2 + 0.95**2) / 20)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_expected_calibration_error_is_at_most_5_points_on_held_out_semesters(
    blind_model: TrainedModel, seed: int
) -> None:
    result = _evaluated(blind_model, make_semester(3000, seed=seed)).calibration
    assert result.calibration_error <= 0.05, result
    assert 0 < result.brier_score < 0.25


def test_a_gender_gap_injected_in_the_grades_raises_the_fairness_verdict(blind_model: TrainedModel) -> None:
    # Female students finish 8 points lower than their indicators say; the model cannot see it,
    # so it misses more of the female students who fail.
    evaluation = _evaluated(blind_model, make_semester(6000, seed=31, female_effect=-8.0))
    verdict = fairness_verdict(evaluation, max_gap=0.10)
    assert verdict.breached, verdict.describe()
    assert verdict.groups == ("female", "male")
    assert set(verdict.compared) == {"female", "male"}  # "other" has too few failing students
    assert verdict.compared["female"]["false_positive_rate"] is not None


def test_no_fairness_verdict_without_a_gap(blind_model: TrainedModel) -> None:
    # Grades that depend on the indicators alone, the same way for every gender. About 240
    # failing students per gender: each recall has a standard error of about 0.03.
    semester = make_semester(6000, seed=40, female_effect=0.0)
    verdict = fairness_verdict(_evaluated(blind_model, semester), max_gap=0.10)
    assert verdict.recall_gap is not None and not verdict.breached, verdict.describe()


def test_too_few_failing_students_give_no_verdict(blind_model: TrainedModel) -> None:
    verdict = fairness_verdict(_evaluated(blind_model, make_semester(150, seed=33, female_effect=-8.0)),
                               max_gap=0.10)
    assert verdict.recall_gap is None and not verdict.breached
