"""Training, prediction with intervals, and the artifact round-trip (real scikit-learn)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gradewatch.models.features import DEFAULT_FEATURE_SPEC, FeatureSpec
from gradewatch.models.training import (
    PREDICTION_COLUMNS,
    ArtifactError,
    ModelInputError,
    SearchConfig,
    TrainedModel,
    conformal_offsets,
    train_model,
)
from tests.support.gradegen import make_semester

SMALL = SearchConfig(n_iter=1, cv=3, rf_trees=30)


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    # The default search (every family, 4 configurations each, 5 folds) on one semester.
    return train_model(make_semester(3000, seed=1), seed=0)


@pytest.fixture(scope="module")
def held_out() -> pd.DataFrame:
    return make_semester(5000, seed=2)


def test_round_trip_predictions_are_identical(trained: TrainedModel, held_out: pd.DataFrame) -> None:
    restored = TrainedModel.from_bytes(trained.to_bytes())
    before = trained.predict(held_out, 60)
    after = restored.predict(held_out, 60)
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    assert list(before.columns) == list(PREDICTION_COLUMNS)
    assert restored.metrics == trained.metrics


def test_interval_coverage_on_a_held_out_semester_is_near_90(
    trained: TrainedModel, held_out: pd.DataFrame
) -> None:
    predicted = trained.predict(held_out, 60)
    truth = held_out["final_grade"]
    inside = (truth >= predicted["interval_lower"]) & (truth <= predicted["interval_upper"])
    assert 0.86 <= inside.mean() <= 0.94, inside.mean()


def test_the_model_beats_the_mean_and_records_its_selection(
    trained: TrainedModel, held_out: pd.DataFrame
) -> None:
    predicted = trained.predict_grades(held_out)
    truth = held_out["final_grade"].to_numpy()
    mae = np.mean(np.abs(truth - predicted))
    assert mae < 0.6 * np.mean(np.abs(truth - truth.mean()))
    assert abs(mae - trained.metrics["cv_mae"]) < 0.5  # CV MAE is an honest estimate
    board = trained.metrics["leaderboard"]
    assert {row["algorithm"] for row in board} == {"ridge", "hist_gradient_boosting", "random_forest"}
    assert trained.metrics["cv_mae"] == pytest.approx(board[0]["cv_mae"])
    json.dumps(trained.metrics)  # stored as JSON in model_versions


def test_probability_below_pass_is_calibrated(trained: TrainedModel, held_out: pd.DataFrame) -> None:
    predicted = trained.predict(held_out, 60)
    failing = held_out["final_grade"] < 60
    # Same residual distribution: on average the probability matches the failure rate...
    assert predicted["probability_below_pass"].mean() == pytest.approx(failing.mean(), abs=0.03)
    # ...and it falls as the predicted grade rises.
    order = predicted.sort_values("predicted_grade")["probability_below_pass"].to_numpy()
    assert np.all(np.diff(order) <= 1e-12)
    assert (predicted["at_risk"] == (predicted["probability_below_pass"] >= 0.5)).all()
    lenient = trained.predict(held_out, 60, risk_threshold=0.2)
    assert lenient["at_risk"].sum() > predicted["at_risk"].sum()


def test_pass_mark_moves_the_probabilities(trained: TrainedModel, held_out: pd.DataFrame) -> None:
    low = trained.predict(held_out.head(200), 40)["probability_below_pass"]
    high = trained.predict(held_out.head(200), 80)["probability_below_pass"]
    assert (high >= low).all() and (high > low).any()
    assert (trained.predict(held_out.head(5), 0)["probability_below_pass"] == 0).all()


def test_predictions_stay_within_0_and_100(trained: TrainedModel) -> None:
    extreme = make_semester(50, seed=3)
    extreme["previous_grade"] = [0.0, 100.0] * 25
    extreme["attendance_rate"] = [-500.0, 5000.0] * 25  # garbage that cleaning would flag
    extreme["study_hours_per_week"] = [0.0, 168.0] * 25
    predicted = trained.predict(extreme, 60)
    for column in ("predicted_grade", "interval_lower", "interval_upper"):
        assert predicted[column].between(0, 100).all()
    assert (predicted["interval_lower"] <= predicted["predicted_grade"]).all()
    assert (predicted["predicted_grade"] <= predicted["interval_upper"]).all()


def test_missing_values_and_unknown_categories_still_get_a_prediction(trained: TrainedModel) -> None:
    rows = make_semester(4, seed=4)
    rows["extracurricular_activities_count"] = rows["extracurricular_activities_count"].astype("Int64")
    rows.loc[0, "attendance_rate"] = np.nan
    rows.loc[1, "gender"] = None
    rows.loc[2, "parental_support"] = "unheard-of"
    rows.loc[3, "extracurricular_activities_count"] = pd.NA
    predicted = trained.predict(rows, 60)
    assert predicted.notna().all().all()
    assert predicted.index.equals(rows.index)


def test_missing_feature_column_is_a_clear_error(trained: TrainedModel) -> None:
    with pytest.raises(ModelInputError, match="missing feature columns: parental_support"):
        trained.predict(make_semester(5, seed=5).drop(columns="parental_support"), 60)


def test_any_feature_list_trains_the_same_way() -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({
        "absences": rng.poisson(4, n),
        "G1": rng.integers(0, 21, n),
        "school": rng.choice(["GP", "MS"], n),
        "higher": rng.choice(["yes", "no"], n),
    })
    frame["G3"] = np.clip(frame["G1"] + (frame["higher"] == "yes") - 0.1 * frame["absences"]
                          + rng.normal(0, 1, n), 0, 20)
    spec = FeatureSpec(("absences", "G1"), ("school", "higher"), target_range=(0.0, 20.0))
    model = train_model(frame, spec, target="G3", config=SMALL)
    predicted = model.predict(frame, 10)
    assert predicted["predicted_grade"].between(0, 20).all()
    assert model.metrics["cv_rmse"] < 1.5
    again = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec


def test_training_ignores_rows_without_a_final_grade() -> None:
    frame = make_semester(600, seed=6)
    frame.loc[:199, "final_grade"] = np.nan
    model = train_model(frame, config=SMALL)
    assert model.metrics["n_train"] == 400


def test_too_little_data_is_refused() -> None:
    with pytest.raises(ModelInputError, match="too few graded rows"):
        train_model(make_semester(10, seed=7), config=SMALL)


def test_search_is_reproducible_with_a_seed() -> None:
    frame = make_semester(500, seed=8)
    a = train_model(frame, seed=3, config=SMALL)
    b = train_model(frame, seed=3, config=SMALL)
    assert a.algorithm == b.algorithm and a.parameters == b.parameters
    np.testing.assert_array_equal(a.predict_grades(frame), b.predict_grades(frame))


def test_conformal_offsets_use_the_finite_sample_order_statistics() -> None:
    residuals = np.arange(1.0, 100.0)  # 99 sorted residuals: 1..99
    low, high = conformal_offsets(residuals, 0.9)
    assert (low, high) == (5.0, 95.0)  # floor(100*0.05)=5th and ceil(100*0.95)=95th


@pytest.mark.parametrize("data", [b"", b"not a model", b"GRADEWATCH-MODEL-1\n" + b"\x00" * 20])
def test_unreadable_artifacts_are_refused(data: bytes) -> None:
    with pytest.raises(ArtifactError):
        TrainedModel.from_bytes(data)


def test_default_spec_is_the_canonical_schema() -> None:
    assert set(DEFAULT_FEATURE_SPEC.columns) == {
        "gender", "attendance_rate", "study_hours_per_week", "previous_grade",
        "extracurricular_activities_count", "parental_support",
    }
    assert DEFAULT_FEATURE_SPEC.target_range == (0.0, 100.0)
