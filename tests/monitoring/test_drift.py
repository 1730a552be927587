"""Drift: no false alarms on identical distributions at any n; real shifts found at n >= 300.

The reference is what a model was trained on: at least 5,000 students (a couple of
semesters), or as many as the current semester when that is larger.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradewatch.monitoring.drift import (
    DriftInputError,
    build_profile,
    compare,
    drift_report,
    psi_band,
)
from tests.support.gradegen import make_semester, shifted_support

REFERENCE_ROWS = 5000


def profile_for(n: int, seed: int) -> dict:
    return build_profile(make_semester(max(REFERENCE_ROWS, n), seed=seed), seed=seed)


@pytest.mark.parametrize(("n", "trials", "allowed"), [(100, 300, 15), (10_000, 10, 0)])
def test_identical_distributions_raise_no_drift(n: int, trials: int, allowed: int) -> None:
    # Each trial is an independent draw. At n = 100 the tests decide, and a test at level
    # 5% alarms on 5% of identical draws by design: the target is at most 5% of the trials.
    # From n = 10,000 on, the effect-size thresholds decide: no alarm at all.
    alarms = [
        compare(profile_for(n, 1000 + t), make_semester(n, seed=5000 + t)).dataset_drift
        for t in range(trials)
    ]
    assert sum(alarms) <= allowed, alarms


def test_identical_distributions_raise_no_drift_at_a_million_rows() -> None:
    reference, current = make_semester(1_000_000, seed=1), make_semester(1_000_000, seed=2)
    report = drift_report(reference, current)
    assert not report.dataset_drift
    for feature in report.features:
        assert not feature.drifted
        assert feature.psi < 0.01 and feature.psi_band == "stable"
    # At this n a plain KS or chi-square test would flag trivia; the effect sizes are tiny.
    assert max(f.statistic for f in report.features) < 0.05


@pytest.mark.parametrize("n", [300, 1000])
def test_half_a_standard_deviation_attendance_shift_is_detected(n: int) -> None:
    found = []
    for t in range(20):
        report = compare(profile_for(n, 2000 + t),
                         make_semester(n, seed=6000 + t, attendance_shift_sd=0.5))
        found.append(report.dataset_drift and "attendance_rate" in report.drifted_features)
    assert sum(found) >= 19, found


def test_attendance_shift_is_detected_at_a_million_rows() -> None:
    report = drift_report(make_semester(1_000_000, seed=3),
                          make_semester(1_000_000, seed=4, attendance_shift_sd=0.5))
    assert report.drifted_features == ["attendance_rate"]
    shift = next(f for f in report.features if f.feature == "attendance_rate")
    assert shift.statistic == pytest.approx(0.5, abs=0.08)  # in reference standard deviations


@pytest.mark.parametrize("n", [300, 1000])
def test_fifteen_point_parental_support_change_is_detected(n: int) -> None:
    found = []
    for t in range(20):
        report = compare(profile_for(n, 3000 + t),
                         make_semester(n, seed=7000 + t, support_shares=shifted_support(0.15)))
        found.append(report.dataset_drift and "parental_support" in report.drifted_features)
    assert sum(found) >= 18, found


def test_profile_survives_json_and_gives_the_same_report() -> None:
    reference, current = make_semester(3000, seed=5), make_semester(400, seed=6, attendance_shift_sd=0.5)
    profile = build_profile(reference)
    restored = json.loads(json.dumps(profile))
    assert compare(restored, current) == compare(profile, current)
    assert len(profile["features"]["attendance_rate"]["sample"]) == 3000
    big = build_profile(make_semester(20_000, seed=7))
    assert len(big["features"]["attendance_rate"]["sample"]) == 5000


def test_report_json_has_the_spec_shape() -> None:
    report = drift_report(make_semester(500, seed=8), make_semester(500, seed=9))
    data = report.to_json_dict()
    assert set(data) == {"dataset_drift", "features"}
    assert [f["feature"] for f in data["features"]] == [
        "attendance_rate", "study_hours_per_week", "previous_grade",
        "extracurricular_activities_count", "gender", "parental_support",
    ]
    for feature in data["features"]:
        assert set(feature) == {"feature", "method", "statistic", "p_value", "psi", "drifted"}
        assert feature["method"] in {"ks", "chi2"}
    json.dumps(data)


def test_too_few_rows_are_not_tested() -> None:
    report = drift_report(make_semester(500, seed=10), make_semester(12, seed=11, attendance_shift_sd=3))
    assert not report.dataset_drift
    assert {f.method for f in report.features} == {"insufficient_data"}


def test_missing_values_are_ignored_and_missing_columns_refused() -> None:
    current = make_semester(400, seed=12)
    current.loc[:99, "attendance_rate"] = np.nan
    current.loc[:49, "gender"] = None
    report = drift_report(make_semester(2000, seed=13), current)
    attendance = next(f for f in report.features if f.feature == "attendance_rate")
    assert attendance.n_current == 300
    with pytest.raises(DriftInputError, match="missing feature columns: gender"):
        drift_report(make_semester(200, seed=14), current.drop(columns="gender"))


def test_new_category_counts_as_drift_when_large() -> None:
    current = make_semester(1000, seed=15)
    current.loc[:299, "parental_support"] = "unknown"
    report = drift_report(make_semester(5000, seed=16), current)
    assert "parental_support" in report.drifted_features


def test_psi_bands() -> None:
    assert [psi_band(x) for x in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "stable", "stable", "moderate", "moderate", "major", "major",
    ]
