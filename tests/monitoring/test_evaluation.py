"""Accuracy metrics, the gender breakdown and the tolerance rule, on hand-checkable data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gradewatch.monitoring.evaluation import Evaluation, ToleranceRule, evaluate
from gradewatch.settings import load_settings


def frame() -> pd.DataFrame:
    # Four students per gender. Female predictions are off by 2, male ones by 6.
    return pd.DataFrame({
        "gender": ["female"] * 4 + ["male"] * 4,
        "final_grade": [50.0, 70.0, 80.0, 55.0, 40.0, 90.0, 65.0, 58.0],
        "predicted_grade": [52.0, 68.0, 82.0, 57.0, 46.0, 84.0, 71.0, 64.0],
        "interval_lower": [45.0, 60.0, 75.0, 50.0, 41.0, 80.0, 66.0, 59.0],
        "interval_upper": [60.0, 75.0, 90.0, 65.0, 55.0, 95.0, 80.0, 70.0],
        "at_risk": [True, False, False, True, True, False, False, False],
    })


def test_overall_metrics_match_hand_computation() -> None:
    result = evaluate(frame(), pass_mark=60, min_group_size=4)
    overall = result.overall
    assert overall.n == 8 and result.n_students == 8 and result.grade_coverage == 1.0
    assert overall.mae == pytest.approx(4.0)
    assert overall.rmse == pytest.approx(math.sqrt((4 * 4 + 4 * 36) / 8))
    truth = frame()["final_grade"].to_numpy()
    assert overall.r2 == pytest.approx(1 - 160 / np.sum((truth - truth.mean()) ** 2))
    # Inside the interval: all four women; men: 40 (no, below 41), 90, 65 (no), 58 (no).
    assert overall.interval_coverage == pytest.approx(5 / 8)
    # Failing (< 60): 50, 55, 40, 58. Flagged: 50, 55, 40. So 3 hits, 3 flagged, 4 failing.
    assert overall.at_risk_precision == pytest.approx(1.0)
    assert overall.at_risk_recall == pytest.approx(0.75)
    assert overall.at_risk_f1 == pytest.approx(2 * 0.75 / 1.75)


def test_by_gender_and_largest_gap() -> None:
    result = evaluate(frame(), pass_mark=60, min_group_size=4)
    assert result.by_gender["female"].mae == pytest.approx(2.0)
    assert result.by_gender["male"].mae == pytest.approx(6.0)
    assert result.max_gender_gap["mae"] == {"gap": pytest.approx(4.0), "groups": ["female", "male"]}
    assert result.max_gender_gap["interval_coverage"]["gap"] == pytest.approx(0.75)


def test_small_groups_are_listed_but_not_compared() -> None:
    result = evaluate(frame(), pass_mark=60, min_group_size=20)
    assert set(result.by_gender) == {"female", "male"}
    assert all(gap is None for gap in result.max_gender_gap.values())


def test_students_without_final_grade_are_left_out_and_counted() -> None:
    data = frame()
    data.loc[[0, 4], "final_grade"] = np.nan
    result = evaluate(data, pass_mark=60, min_group_size=1)
    assert result.n_students == 6 and result.grade_coverage == pytest.approx(0.75)
    assert result.by_gender["male"].n == 3


def test_nothing_flagged_gives_no_precision_instead_of_a_crash() -> None:
    data = frame().assign(at_risk=False)
    overall = evaluate(data, pass_mark=60).overall
    assert overall.at_risk_precision is None and overall.at_risk_recall == 0.0
    assert overall.at_risk_f1 is None


def test_missing_gender_is_its_own_group() -> None:
    data = frame().astype({"gender": object})
    data.loc[0, "gender"] = None
    assert "unknown" in evaluate(data, pass_mark=60).by_gender


def test_missing_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="interval_lower"):
        evaluate(frame().drop(columns="interval_lower"), pass_mark=60)


def _with_mae(mae: float, n: int) -> Evaluation:
    truth = np.full(n, 70.0)
    data = pd.DataFrame({
        "final_grade": truth, "predicted_grade": truth + mae,
        "interval_lower": truth - 10, "interval_upper": truth + 10, "at_risk": False,
    })
    return evaluate(data, pass_mark=60)


def test_tolerance_rule() -> None:
    rule = ToleranceRule(factor=1.25, min_students=30)
    assert rule.within(_with_mae(5.0, 100), validation_mae=4.0) is True  # exactly 1.25x
    assert rule.within(_with_mae(5.1, 100), validation_mae=4.0) is False
    assert rule.within(_with_mae(9.0, 10), validation_mae=4.0) is None  # too few grades


def test_tolerance_factor_comes_from_the_settings(tmp_path) -> None:
    settings = load_settings({"GRADEWATCH_ACCURACY_TOLERANCE": "1.5"}, base_dir=tmp_path)
    rule = ToleranceRule.from_settings(settings)
    assert rule.factor == 1.5
    assert rule.within(_with_mae(5.9, 100), validation_mae=4.0) is True
    assert ToleranceRule.from_settings(load_settings({}, base_dir=tmp_path)).factor == 1.25
