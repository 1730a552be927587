"""Property-based tests: on arbitrary parsed rows, cleaning never raises, never outputs a value
outside its range, and cleaning its own output changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradewatch import schema
from gradewatch.quality.cleaning import CleaningReference, clean_semester, fit_reference
from gradewatch.synthetic.errors import INVALID, TYPOS

SPECIAL = [-9999.0, -999.0, -99.0, -5.0, -1.0, 0.0, 0.5, 1.0, 20.0, 99.0, 100.0, 168.0, 200.0,
           999.0, 1e308, -1e308]
CATEGORY_SPELLINGS = sorted({*schema.GENDERS, *schema.SUPPORT_LEVELS, *TYPOS["female"], *TYPOS["high"],
                             *TYPOS["medium"], *INVALID["gender"], "F", " Male ", "HI", "fmale", ""})

numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-10, max_value=300),
    st.sampled_from(SPECIAL),
)
categories = st.one_of(st.none(), st.sampled_from(CATEGORY_SPELLINGS), st.text(max_size=8))
ids = st.one_of(st.sampled_from(["a", "b", "c", "d", "e", " f ", "", "  "]), st.none(),
                st.text(min_size=1, max_size=4), st.integers(0, 10**6).map(str),
                st.integers(0, 10**6).map(str))
stamps = st.one_of(st.none(), st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                                           timezones=st.just(UTC)))


@st.composite
def parsed_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=60))

    def column(strategy: st.SearchStrategy) -> list:
        return draw(st.lists(strategy, min_size=n, max_size=n))

    frame = pd.DataFrame({
        "user_id": pd.Series(column(ids), dtype=object),
        "gender": pd.Series(column(categories), dtype=object),
        "parental_support": pd.Series(column(categories), dtype=object),
    })
    for name in ("attendance_rate", "study_hours_per_week", "previous_grade",
                 "extracurricular_activities_count", "final_grade"):
        # Either anything at all, or mostly plausible values with some junk mixed in.
        plausible = st.integers(200, 1000).map(lambda v: v / 10)
        mixed = st.one_of(*[plausible] * 15, numbers)
        strategy = draw(st.sampled_from([numbers, mixed]))
        values = np.array([np.nan if v is None else v for v in column(strategy)], dtype=float)
        # Whole-column patterns the file-level rules look for: fractions, small grade scales.
        scale = draw(st.sampled_from([1.0, 1.0, 0.01, 0.05, 0.1]))
        with np.errstate(over="ignore", invalid="ignore"):
            frame[name] = np.round(values * scale, 6) if n else values
    if draw(st.booleans()):
        frame["updated_at"] = pd.Series(column(stamps), dtype=object)
    return frame


@st.composite
def convertible_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Plausible semesters written on another scale (fractions, 0-20, 0-10), with some junk:
    what the whole-file conversion rules look at."""
    n = draw(st.integers(min_value=5, max_value=60))
    frame = pd.DataFrame({"user_id": [f"s{i}" for i in range(n)],
                          "gender": draw(st.lists(categories, min_size=n, max_size=n)),
                          "parental_support": draw(st.lists(categories, min_size=n, max_size=n))})
    for name in ("attendance_rate", "study_hours_per_week", "previous_grade",
                 "extracurricular_activities_count", "final_grade"):
        plausible = draw(st.lists(st.integers(200, 1000), min_size=n, max_size=n))
        junk = draw(st.lists(st.sampled_from([False] * 11 + [True]), min_size=n, max_size=n))
        cells = [draw(numbers) if j else v / 10 for v, j in zip(plausible, junk, strict=True)]
        values = np.array([np.nan if v is None else v for v in cells], dtype=float)
        scale = draw(st.sampled_from([1.0, 0.01, 0.05, 0.1]))
        with np.errstate(over="ignore", invalid="ignore"):
            frame[name] = np.round(values * scale, 6)
    return frame


def assert_in_range(out: pd.DataFrame) -> None:
    for spec in schema.NUMERIC_FEATURES:
        values = out[spec.name].astype(float).dropna()
        assert ((values >= spec.low) & (values <= spec.high)).all(), spec.name
        if spec.integer:
            assert (values == values.round()).all()
    for spec in schema.CATEGORICAL_FEATURES:
        assert out[spec.name].dropna().isin(spec.categories).all(), spec.name
    grades = out["final_grade"].dropna()
    assert ((grades >= 0) & (grades <= 100)).all()
    kept = out.loc[~out["excluded"]]
    # A row that is not excluded is complete: every predictor has a valid value.
    assert not kept[list(schema.FEATURES)].isna().any().any()
    assert out["user_id"].notna().all()
    assert not out.duplicated(["user_id", "start_date_period", "end_date_period"]).any()


REFERENCE = CleaningReference(
    medians={"attendance_rate": 90.0, "study_hours_per_week": 11.0, "previous_grade": 72.0,
             "extracurricular_activities_count": 2.0},
    scales={"attendance_rate": 6.0, "study_hours_per_week": 5.0, "previous_grade": 11.0,
            "extracurricular_activities_count": None},
    modes={"gender": "female", "parental_support": "high"},
)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(frame=st.one_of(parsed_frames(), convertible_frames()), use_reference=st.booleans())
def test_cleaning_never_raises_and_outputs_stay_in_range(frame: pd.DataFrame, use_reference: bool):
    result = clean_semester(frame, REFERENCE if use_reference else None)
    assert_in_range(result.frame)
    report = result.report.to_dict()
    assert report["rows_in"] == len(frame)
    assert report["rows_in"] == report["rows_out"] + sum(report["dropped"].values())
    assert report["rows_out"] == len(result.frame) == report["clean"] + report["imputed"] + report["excluded"]
    assert report["excluded"] == int(result.frame["excluded"].sum())
    result.report.to_markdown()


@PROPERTY_SETTINGS
@given(frame=st.one_of(parsed_frames(), convertible_frames()), use_reference=st.booleans())
def test_cleaning_is_idempotent(frame: pd.DataFrame, use_reference: bool):
    reference = REFERENCE if use_reference else None
    first = clean_semester(frame, reference).frame
    second = clean_semester(first, reference).frame
    pd.testing.assert_frame_equal(first, second)


@PROPERTY_SETTINGS
@given(frame=parsed_frames())
def test_cleaning_is_deterministic_and_a_fitted_reference_is_usable(frame: pd.DataFrame):
    first = clean_semester(frame)
    pd.testing.assert_frame_equal(first.frame, clean_semester(frame.copy()).frame)
    reference = fit_reference(first.frame)
    assert CleaningReference.from_dict(reference.to_dict()) == reference
    assert_in_range(clean_semester(frame, reference).frame)
