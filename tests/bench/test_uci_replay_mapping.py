"""The UCI replay's mapping (bench/uci_replay.py): rows in the UCI files' format become rows
GradeWatch accepts as they are, so the replay measures the model and not the cleaning rules.

The real files live outside the project (shared/data, read by the benchmark only); this test
writes files of the same format and value ranges (UCI's documented domains: absences 0-93,
studytime 1-4, grades 0-20, quoted G1/G2 as in the originals) with a fixed seed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.uci import load
from bench.uci_replay import COURSES, map_uci, semesters
from gradewatch.quality.cleaning import clean_semester

ROWS = {"mat": 95, "por": 149}


def uci_like(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    yes_no = ["yes", "no"]
    g1 = rng.integers(3, 20, n)
    return pd.DataFrame({
        "school": rng.choice(["GP", "MS"], n), "sex": rng.choice(["F", "M"], n),
        "age": rng.integers(15, 23, n), "studytime": rng.integers(1, 5, n),
        "famsup": rng.choice(yes_no, n), "paid": rng.choice(yes_no, n), "activities": rng.choice(yes_no, n),
        "absences": np.minimum(rng.poisson(5, n), 93),
        "G1": g1, "G2": np.clip(g1 + rng.integers(-2, 3, n), 0, 20),
        "G3": np.where(rng.random(n) < 0.05, 0, np.clip(g1 + rng.integers(-3, 4, n), 0, 20)),
    })


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for seed, (course, name) in enumerate(COURSES.items()):
        frame = uci_like(ROWS[course], seed)
        for column in ("G1", "G2"):  # quoted in the original files
            frame[column] = frame[column].map(lambda v: f'"{v}"')
        text = frame.to_csv(sep=";", index=False, quoting=3)  # csv.QUOTE_NONE: the quotes as written
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("course", list(COURSES))
def test_mapped_rows_are_clean_and_on_gradewatch_scales(data_dir: Path, course: str) -> None:
    raw = load(data_dir / COURSES[course])
    assert len(raw) == ROWS[course] and raw["G1"].dtype.kind == "i"  # the quotes were read away
    mapped = map_uci(raw, course)
    assert len(mapped) == len(raw) and mapped["user_id"].is_unique
    assert mapped["final_grade"].tolist() == (raw["G3"] * 5).astype(float).tolist()
    assert mapped["previous_grade"].tolist() == (raw["G1"] * 5).astype(float).tolist()
    assert mapped["attendance_rate"].tolist() == (100 - raw["absences"]).clip(lower=0).astype(float).tolist()
    assert set(mapped["study_hours_per_week"]) == {1.0, 3.5, 7.5, 12.0}
    assert set(mapped["parental_support"]) == {"low", "medium", "high"}
    assert set(mapped["gender"]) == {"female", "male"}
    result = clean_semester(mapped)
    assert result.report.excluded == 0
    assert result.report.imputed == 0


def test_semesters_cover_every_row_once_in_equal_consecutive_parts(data_dir: Path) -> None:
    parts = semesters(data_dir, 6, seed=0)
    ids = pd.concat([frame["user_id"] for _, frame in parts])
    assert ids.is_unique and len(ids) == sum(ROWS.values())
    assert {len(frame) for _, frame in parts} <= {40, 41}
    periods = [period for period, _ in parts]
    assert all(a.end < b.start for a, b in itertools.pairwise(periods))
    for _, frame in parts:  # both courses in each semester, as in the real split
        assert {uid.split("-")[0] for uid in frame["user_id"]} == set(COURSES)
