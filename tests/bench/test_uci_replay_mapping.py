"""The UCI replay's mapping (bench/uci_replay.py): the real files become rows GradeWatch accepts
as they are, so the replay measures the model and not the cleaning rules."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from bench.uci import DEFAULT_DIR, load
from bench.uci_replay import COURSES, map_uci, semesters
from gradewatch.quality.cleaning import clean_semester

# The data live outside the project (shared/data, never copied in): without them there is nothing
# to check, which is a skip, not a pass.
pytestmark = pytest.mark.skipif(not DEFAULT_DIR.is_dir(), reason=f"UCI data not found at {DEFAULT_DIR}")


@pytest.mark.parametrize("course", list(COURSES))
def test_mapped_rows_are_clean_and_on_gradewatch_scales(course: str) -> None:
    raw = load(DEFAULT_DIR / COURSES[course])
    mapped = map_uci(raw, course)
    assert len(mapped) == len(raw) and mapped["user_id"].is_unique
    assert mapped["final_grade"].tolist() == (raw["G3"] * 5).astype(float).tolist()
    assert mapped["previous_grade"].tolist() == (raw["G1"] * 5).astype(float).tolist()
    assert mapped["attendance_rate"].between(0, 100).all()
    assert set(mapped["study_hours_per_week"]) <= {1.0, 3.5, 7.5, 12.0}
    assert set(mapped["parental_support"]) <= {"low", "medium", "high"}
    assert set(mapped["gender"]) == {"female", "male"}
    result = clean_semester(mapped)
    assert result.report.excluded == 0
    assert result.report.imputed == 0


def test_semesters_cover_every_row_once_in_equal_consecutive_parts() -> None:
    parts = semesters(DEFAULT_DIR, 6, seed=0)
    ids = pd.concat([frame["user_id"] for _, frame in parts])
    assert ids.is_unique and len(ids) == 395 + 649
    assert {len(frame) for _, frame in parts} == {174}
    periods = [period for period, _ in parts]
    assert periods == sorted(periods)
    assert all(a.end < b.start for a, b in itertools.pairwise(periods))
    # both courses in every semester: a semester of one course only would be a shift of its own
    assert all(frame["user_id"].str[:3].nunique() == 2 for _, frame in parts)
