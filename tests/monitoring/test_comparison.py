"""The paired comparison: noise-sized differences are not promotions, clear ones are."""

from __future__ import annotations

import numpy as np
import pytest

from gradewatch.monitoring.comparison import paired_comparison


def _errors(n: int, seed: int, challenger_scale: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hardness = rng.gamma(2.0, 2.5, n)  # what both models share: some students are hard
    champion = hardness * rng.normal(1, 0.25, n)
    challenger = hardness * rng.normal(challenger_scale, 0.25, n)
    return champion, challenger


def test_a_challenger_better_by_less_than_the_noise_is_not_better() -> None:
    # 1% better on average, on 300 students: far inside the noise.
    result = paired_comparison(*_errors(300, seed=1, challenger_scale=0.99), ["s1"])
    assert result.interval[0] < 0 < result.interval[1]
    assert not result.challenger_better


def test_a_clearly_better_challenger_is_better_and_the_interval_is_recorded() -> None:
    result = paired_comparison(*_errors(300, seed=2, challenger_scale=0.85), ["s1", "s2"])
    assert result.challenger_better
    assert 0 < result.interval[0] < result.mae_difference < result.interval[1]
    record = result.to_dict()
    assert record["test"] == "paired_bootstrap_mae_difference" and record["n_students"] == 300
    assert record["semesters"] == ["s1", "s2"] and record["wilcoxon_p_value"] < 0.001


def test_confident_but_tiny_improvements_are_not_enough() -> None:
    # Exactly 0.5% better for every student: certain, but below the 1% a promotion needs.
    champion = np.linspace(1, 10, 5000)
    result = paired_comparison(champion, champion * 0.995, ["s1"])
    assert result.interval[0] > 0 and not result.challenger_better
    assert result.relative_improvement == pytest.approx(0.005)


def test_mismatched_students_are_refused() -> None:
    with pytest.raises(ValueError, match="same, non-empty set of students"):
        paired_comparison(np.ones(3), np.ones(4), ["s"])
