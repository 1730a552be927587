"""drift_metrics and model_performance rows: one transaction per semester, re-runs replace."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from gradewatch.monitoring.drift import drift_report
from gradewatch.monitoring.evaluation import evaluate
from gradewatch.semesters import Period
from gradewatch.storage.monitoring import (
    read_drift_metrics,
    read_performance,
    replace_drift_metrics,
    replace_performance,
)
from tests.support.gradegen import make_semester

SPRING = Period.from_key("2026-01-12_2026-06-30")
AUTUMN = Period.from_key("2026-09-01_2027-01-29")


def test_drift_rows_replace_the_semester(engine: Engine) -> None:
    reference = make_semester(2000, seed=1)
    shifted = drift_report(reference, make_semester(500, seed=2, attendance_shift_sd=0.5))
    calm = drift_report(reference, make_semester(500, seed=3))
    assert replace_drift_metrics(engine, SPRING, shifted.feature_rows(), "v1") == 6
    assert replace_drift_metrics(engine, AUTUMN, calm.feature_rows(), "v1") == 6
    rows = read_drift_metrics(engine, SPRING)
    assert [r["feature"] for r in rows if r["drifted"]] == ["attendance_rate"]
    attendance = next(r for r in rows if r["feature"] == "attendance_rate")
    assert attendance["method"] == "ks" and attendance["threshold"] == 0.1
    assert attendance["statistic"] > 0.3 and attendance["p_value"] < 1e-6
    replace_drift_metrics(engine, SPRING, calm.feature_rows(), "v2")  # a re-run
    rows = read_drift_metrics(engine, SPRING)
    assert len(rows) == 6 and not any(r["drifted"] for r in rows)
    assert {r["reference_version"] for r in rows} == {"v2"}
    assert len(read_drift_metrics(engine, AUTUMN)) == 6


def _evaluation(shift: float):
    data = make_semester(300, seed=4)
    predictions = pd.DataFrame({
        "predicted_grade": data["final_grade"] + shift,
        "interval_lower": data["final_grade"] - 5,
        "interval_upper": data["final_grade"] + 5,
        "at_risk": data["final_grade"] < 60,
    })
    return evaluate(pd.concat([data, predictions], axis=1), pass_mark=60)


def test_performance_rows_per_semester_and_version(engine: Engine) -> None:
    replace_performance(engine, SPRING, "v1", _evaluation(3.0).to_record(), True)
    replace_performance(engine, SPRING, "v2", _evaluation(1.0).to_record(), True)
    replace_performance(engine, SPRING, "v1", _evaluation(8.0).to_record(), False)  # re-evaluated
    rows = read_performance(engine, SPRING)
    assert [(r["model_version"], r["within_tolerance"]) for r in rows] == [("v2", True), ("v1", False)]
    v1 = rows[1]
    assert v1["mae"] == pytest.approx(8.0) and v1["n_students"] == 300
    assert v1["interval_coverage"] == pytest.approx(1.0)  # intervals are around the truth
    assert set(v1["by_gender"]) == {"female", "male", "other"}
    assert v1["by_gender"]["female"]["mae"] == pytest.approx(8.0)
    assert v1["max_gender_gap"]["mae"]["gap"] == pytest.approx(0.0, abs=1e-9)
    assert read_performance(engine, AUTUMN) == []


def test_performance_rows_carry_role_and_calibration(engine: Engine) -> None:
    data = make_semester(300, seed=4)
    failing = data["final_grade"] < 60
    predictions = pd.DataFrame({
        "predicted_grade": data["final_grade"], "interval_lower": data["final_grade"] - 5,
        "interval_upper": data["final_grade"] + 5, "at_risk": failing,
        "probability_below_pass": failing.map({True: 0.95, False: 0.05}),
    })
    evaluation = evaluate(pd.concat([data, predictions], axis=1), pass_mark=60)
    replace_performance(engine, SPRING, "v3", evaluation.to_record(), None, role="shadow")
    (row,) = read_performance(engine, SPRING)
    assert row["role"] == "shadow"
    assert row["calibration_error"] == pytest.approx(0.05) and row["brier_score"] == pytest.approx(0.0025)
    assert [band["band"] for band in row["reliability"]] == [[0.0, 0.1], [0.9, 1.0]]
    assert row["by_gender"]["female"]["at_risk_fpr"] == 0.0
