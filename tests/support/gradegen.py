"""A small generator of canonical semesters for the modeling, drift and registry tests.

Self-contained on purpose (the product's own generator lives elsewhere): the tests must know
exactly which distribution they draw from. Vectorised, so a million rows take well under a
second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ATTENDANCE_MEAN, ATTENDANCE_SD = 82.0, 9.0
SUPPORT_SHARES = {"low": 0.3, "medium": 0.4, "high": 0.3}
GENDER_SHARES = {"female": 0.49, "male": 0.49, "other": 0.02}


def make_semester(
    n: int,
    seed: int,
    *,
    attendance_shift_sd: float = 0.0,
    support_shares: dict[str, float] | None = None,
    noise_sd: float = 6.0,
    female_effect: float = 1.0,
    unsteady: float = 0.0,
) -> pd.DataFrame:
    """``n`` students with features and a final grade (0 to 100) that depends on them.

    ``attendance_shift_sd`` moves attendance by that many standard deviations (before
    clipping to 0-100); ``support_shares`` replaces the parental-support shares;
    ``female_effect`` is the grade points female students get for the same indicators (a large
    negative value injects a gap that a model blind to gender cannot see); ``unsteady`` makes
    students who miss classes less predictable: the noise SD grows by that share of
    ``noise_sd`` per 10 attendance points below 85 (so a shift towards low attendance raises
    any model's error, and a label-free estimate has something to see).
    """
    rng = np.random.default_rng(seed)
    shares = support_shares or SUPPORT_SHARES
    gender = rng.choice(list(GENDER_SHARES), size=n, p=list(GENDER_SHARES.values()))
    support = rng.choice(list(shares), size=n, p=list(shares.values()))
    attendance = rng.normal(ATTENDANCE_MEAN + attendance_shift_sd * ATTENDANCE_SD, ATTENDANCE_SD, n)
    attendance = np.clip(attendance, 0, 100)
    hours = np.clip(rng.gamma(3.0, 3.5, n), 0, 60)
    previous = np.clip(rng.normal(68, 13, n), 0, 100)
    extracurricular = rng.poisson(1.4, n)
    support_effect = pd.Series(support).map({"low": -4.0, "medium": 0.0, "high": 3.0}).to_numpy()
    grade = (
        5
        + 0.55 * previous
        + 0.3 * attendance
        + 8 * np.log1p(hours) / np.log1p(10)
        - 6 * (attendance < 70)  # missing many classes hurts more than linearly
        + 0.8 * np.minimum(extracurricular, 3)
        + support_effect
        + (gender == "female") * female_effect
        + rng.normal(0, 1, n) * noise_sd * (1 + unsteady * np.maximum(85 - attendance, 0) / 10)
    )
    return pd.DataFrame(
        {
            "user_id": [f"s{seed}-{i}" for i in range(n)] if n <= 200_000 else np.arange(n).astype(str),
            "gender": gender,
            "attendance_rate": np.round(attendance, 1),
            "study_hours_per_week": np.round(hours, 1),
            "previous_grade": np.round(previous, 1),
            "extracurricular_activities_count": extracurricular,
            "parental_support": support,
            "final_grade": np.round(np.clip(grade, 0, 100), 1),
        }
    )


def shifted_support(points: float = 0.15) -> dict[str, float]:
    """Parental-support shares with ``points`` more students in 'high', taken from the others."""
    high = SUPPORT_SHARES["high"] + points
    rest = 1 - SUPPORT_SHARES["high"]
    return {
        "low": SUPPORT_SHARES["low"] * (1 - high) / rest,
        "medium": SUPPORT_SHARES["medium"] * (1 - high) / rest,
        "high": high,
    }


def make_noise_semester(n: int, seed: int) -> pd.DataFrame:
    """Like :func:`make_semester`, but the final grades are independent of every indicator (a
    real-looking export whose grades no model can predict)."""
    frame = make_semester(n, seed)
    rng = np.random.default_rng(seed + 7919)
    frame["final_grade"] = np.round(np.clip(rng.normal(66, 12, n), 0, 100), 1)
    return frame
