"""performance_estimates rows on SQLite and PostgreSQL: re-runs replace, realised MAE beside."""

from __future__ import annotations

import pytest

from gradewatch.semesters import Period
from gradewatch.storage.estimates import read_estimates, record_realised_mae, replace_estimate

SPRING = Period.from_key("2026-01-12_2026-06-30")


def test_an_estimate_is_replaced_by_a_rerun_and_keeps_its_realised_mae(engine) -> None:
    assert record_realised_mae(engine, SPRING, "v1", 6.0) is False  # nothing estimated yet
    replace_estimate(engine, SPRING, "v1", method="dle", n_students=400, estimated_mae=7.0,
                     lower=6.5, upper=7.5)
    assert record_realised_mae(engine, SPRING, "v1", 6.8) is True
    replace_estimate(engine, SPRING, "v1", method="dle", n_students=410, estimated_mae=7.2,
                     lower=6.7, upper=7.7)
    replace_estimate(engine, SPRING, "v2", method="dle", n_students=410, estimated_mae=5.0,
                     lower=None, upper=None)
    rows = read_estimates(engine, SPRING)
    assert [(r["model_version"], r["n_students"]) for r in rows] == [("v1", 410), ("v2", 410)]
    assert rows[0]["estimated_mae"] == pytest.approx(7.2) and rows[0]["realised_mae"] == pytest.approx(6.8)
    assert rows[1]["realised_mae"] is None and rows[1]["estimated_mae_lower"] is None
