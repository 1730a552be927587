"""The settings of issue 14: defaults, and a clear message for an unusable value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradewatch.settings import SettingsError, load_settings


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, base_dir=tmp_path)
    assert settings.model_excluded_features == ("gender",)
    assert (settings.baseline_min_gain, settings.retrain_growth, settings.fairness_max_gap) == (0.02, 0.5, 0.10)


def test_excluded_features_are_parsed_and_checked(tmp_path: Path) -> None:
    env = {"GRADEWATCH_MODEL_EXCLUDED_FEATURES": " gender , parental_support,gender"}
    assert load_settings(env, base_dir=tmp_path).model_excluded_features == ("gender", "parental_support")
    assert load_settings({"GRADEWATCH_MODEL_EXCLUDED_FEATURES": ""}, base_dir=tmp_path).model_excluded_features == ()
    with pytest.raises(SettingsError, match="unknown indicators sex"):
        load_settings({"GRADEWATCH_MODEL_EXCLUDED_FEATURES": "sex"}, base_dir=tmp_path)
