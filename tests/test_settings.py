"""GRADEWATCH_RISK_TIERS and GRADEWATCH_MODEL_EXCLUDED_FEATURES: defaults, parsing, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradewatch.reports import risk_tier
from gradewatch.settings import SettingsError, load_settings


def settings_of(**env: str):
    return load_settings(env, base_dir=Path("/tmp"))


def test_defaults_are_the_specs() -> None:
    settings = settings_of()
    assert settings.risk_tiers == (0.5, 0.2)
    assert settings.model_excluded_features == ("gender",)


def test_values_are_parsed() -> None:
    settings = settings_of(GRADEWATCH_RISK_TIERS=" 0.7 , 0.3 ",
                           GRADEWATCH_MODEL_EXCLUDED_FEATURES="gender, parental_support,")
    assert settings.risk_tiers == (0.7, 0.3)
    assert settings.model_excluded_features == ("gender", "parental_support")
    assert settings_of(GRADEWATCH_MODEL_EXCLUDED_FEATURES="").model_excluded_features == ()


@pytest.mark.parametrize("raw", ["0.2,0.5", "0.5", "high,low", "0.5,0", "1.5,0.2", "0.5,0.2,0.1"])
def test_unusable_tiers_are_refused_with_the_variables_name(raw: str) -> None:
    with pytest.raises(SettingsError, match="GRADEWATCH_RISK_TIERS"):
        settings_of(GRADEWATCH_RISK_TIERS=raw)


def test_tiers_include_their_lower_bound() -> None:
    tiers = (0.5, 0.2)
    assert [risk_tier(p, tiers) for p in (0.9, 0.5, 0.49, 0.2, 0.19, 0.0, None)] == [
        "high", "high", "moderate", "moderate", "low", "low", None]
