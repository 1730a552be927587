"""Naive baselines on the model's own folds, and the "informative" verdict (real scikit-learn)."""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pytest
from sklearn.model_selection import KFold

from gradewatch.models.baselines import assess
from gradewatch.models.features import DEFAULT_FEATURE_SPEC, model_feature_spec
from gradewatch.models.training import ARTIFACT_MAGIC, SearchConfig, train_model
from tests.support.gradegen import make_noise_semester, make_semester

QUICK = SearchConfig(families=("ridge", "hist_gradient_boosting"), n_iter=1, cv=3)


def test_a_model_of_noise_is_not_informative_and_one_of_real_signal_is() -> None:
    noise = train_model(make_noise_semester(800, seed=3), config=QUICK)
    signal = train_model(make_semester(800, seed=3), config=QUICK)
    verdict_noise, verdict_signal = assess(noise.metrics, 0.02), assess(signal.metrics, 0.02)
    assert verdict_noise.informative is False, verdict_noise.to_dict()
    assert verdict_signal.informative is True, verdict_signal.to_dict()
    assert set(signal.metrics["baselines"]) == {"mean_grade", "previous_grade", "previous_grade_as_is"}
    # With real signal the previous grade alone is a far better yardstick than the mean.
    assert verdict_signal.best_baseline in {"previous_grade", "previous_grade_as_is"}
    assert verdict_signal.gain > 0.02 > verdict_noise.gain


def test_the_mean_baseline_is_scored_on_the_model_folds() -> None:
    frame = make_semester(300, seed=5)
    trained = train_model(frame, config=QUICK, seed=4)
    y = frame["final_grade"].to_numpy()
    expected = np.empty(y.size)
    for train, test in KFold(n_splits=3, shuffle=True, random_state=4).split(frame):
        expected[test] = y[train].mean()
    recorded = trained.metrics["baselines"]["mean_grade"]["cv_mae"]
    assert recorded == pytest.approx(np.mean(np.abs(y - expected)))


def test_a_model_the_raw_previous_grade_beats_is_not_informative() -> None:
    # As in the UCI replay: final = previous grade + noise, and a fifth of the students drop out
    # with 0. Rescaling the previous grade to the final grades' spread (inflated by the zeros)
    # makes that baseline worse than the previous grade itself.
    rng = np.random.default_rng(8)
    frame = make_semester(800, seed=8)
    previous = frame["previous_grade"].to_numpy()
    dropout = rng.random(previous.size) < 0.2
    frame["final_grade"] = np.where(dropout, 0.0, np.clip(previous + rng.normal(0, 3, previous.size), 0, 100))
    model = train_model(frame, config=QUICK)
    baselines = model.metrics["baselines"]
    assert baselines["previous_grade_as_is"]["cv_mae"] < baselines["previous_grade"]["cv_mae"]
    verdict = assess(model.metrics, 0.02)
    assert verdict.best_baseline == "previous_grade_as_is" and verdict.informative is False, verdict.to_dict()


def test_the_verdict_uses_the_min_gain_setting() -> None:
    metrics = {"cv_mae": 9.7, "baselines": {"mean_grade": {"cv_mae": 12.0},
                                            "previous_grade": {"cv_mae": 10.0}}}
    assert assess(metrics, 0.02).informative is True  # 3% better
    assert assess(metrics, 0.05).informative is False
    assert assess({"cv_mae": 9.7}, 0.02).informative is None  # a model trained before baselines


def test_an_excluded_indicator_is_neither_an_input_nor_in_the_artifact() -> None:
    spec = model_feature_spec(("gender",))
    trained = train_model(make_semester(400, seed=6), spec, config=QUICK, profile_spec=DEFAULT_FEATURE_SPEC)
    assert "gender" not in trained.feature_spec.columns
    assert "gender" in trained.reference_profile["features"]  # still audited for drift
    payload = zlib.decompress(trained.to_bytes()[len(ARTIFACT_MAGIC):])
    assert b"gender" not in payload and b"female" not in payload
    assert "gender" not in pickle.loads(payload).pipeline[0].feature_names_in_  # noqa: S301
