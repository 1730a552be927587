"""The cleaning rules, one at a time, on small hand-written semesters."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from gradewatch import schema
from gradewatch.quality.cleaning import (
    DEFAULT_REFERENCE,
    OUTPUT_COLUMNS,
    CleaningReference,
    CleaningResult,
    clean_semester,
    fit_reference,
)
from gradewatch.quality.report import RULES, QualityReport


def semester(n: int = 30, seed: int = 0, **columns: object) -> pd.DataFrame:
    """n clean, plausible rows; keyword arguments replace whole columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "user_id": [f"u{i:03d}" for i in range(n)],
        "start_date_period": date(2026, 1, 12),
        "end_date_period": date(2026, 6, 30),
        "gender": rng.choice(["female", "male"], n).astype(object),
        "attendance_rate": rng.normal(88, 5, n).clip(50, 100).round(1),
        "study_hours_per_week": rng.normal(12, 3, n).clip(1, 40).round(1),
        "previous_grade": rng.normal(70, 10, n).clip(20, 100).round(1),
        "extracurricular_activities_count": pd.array(rng.integers(0, 4, n), dtype="Int64"),
        "parental_support": rng.choice(["low", "medium", "high"], n).astype(object),
        "final_grade": rng.normal(68, 10, n).clip(20, 100).round(1),
    })
    for name, values in columns.items():
        frame[name] = values
    return frame


def with_cells(frame: pd.DataFrame, *cells: tuple[int, str, object]) -> pd.DataFrame:
    frame = frame.copy()
    for row, column, value in cells:
        if frame[column].dtype != object and isinstance(value, str):
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    return frame


def flags(result: CleaningResult, row: int) -> list[str]:
    text = result.frame["quality_flags"].iloc[row]
    return text.split(";") if text else []


def test_clean_semester_keeps_clean_data_unchanged():
    frame = semester()
    result = clean_semester(frame)
    out = result.frame
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    for column in (*schema.FEATURES, schema.FINAL_GRADE):
        assert out[column].astype(object).tolist() == frame[column].astype(object).tolist()
    assert not out["excluded"].any()
    assert result.report.imputed == result.report.excluded == 0
    assert result.report.rows_in == result.report.rows_out == 30


def test_one_bad_feature_is_imputed_from_the_reference_and_flagged():
    frame = with_cells(semester(), (3, "attendance_rate", 135.0))
    reference = CleaningReference(
        medians={**DEFAULT_REFERENCE.medians, "attendance_rate": 77.0},
        scales=DEFAULT_REFERENCE.scales, modes=DEFAULT_REFERENCE.modes, n_rows=500)
    result = clean_semester(frame, reference)
    assert result.frame.loc[3, "attendance_rate"] == 77.0
    assert flags(result, 3) == ["out_of_range:attendance_rate", "imputed:attendance_rate"]
    assert not result.frame.loc[3, "excluded"]
    report = result.report
    assert (report.imputed, report.excluded, report.rules["out_of_range"]) == (1, 0, 1)
    assert report.imputed_by_column == {"attendance_rate": 1}
    assert report.reference_source == "training"


def test_without_reference_the_semester_median_is_used_and_the_report_says_so():
    frame = with_cells(semester(), (0, "previous_grade", -1.0))
    result = clean_semester(frame)
    others = frame["previous_grade"].iloc[1:]
    assert result.frame.loc[0, "previous_grade"] == pytest.approx(float(np.median(others)))
    assert result.report.reference_source == "semester"
    assert "own robust statistics" in result.report.reference_note
    assert flags(result, 0) == ["sentinel:previous_grade", "imputed:previous_grade"]


def test_two_bad_features_exclude_the_row_and_leave_bad_cells_empty():
    frame = with_cells(semester(), (5, "gender", "unknown"), (5, "study_hours_per_week", 999.0))
    result = clean_semester(frame)
    row = result.frame.loc[5]
    assert row["excluded"]
    assert row["gender"] is None and np.isnan(row["study_hours_per_week"])
    assert row["attendance_rate"] == frame.loc[5, "attendance_rate"]  # good cells stay
    assert result.report.excluded == 1
    assert result.report.excluded_by_bad_features == {"2": 1}
    assert "excluded" in flags(result, 5)


def test_missing_cells_count_as_bad_features():
    frame = with_cells(semester(), (1, "gender", None), (2, "parental_support", None),
                       (2, "previous_grade", np.nan))
    result = clean_semester(frame)
    assert result.frame.loc[1, "gender"] in schema.GENDERS
    assert flags(result, 1) == ["missing_value:gender", "imputed:gender"]
    assert result.frame.loc[2, "excluded"]
    assert result.report.rules["missing_value"] == 3


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("attendance_rate", 200.0, "sentinel"),
    ("attendance_rate", -1.0, "sentinel"),
    ("attendance_rate", 101.5, "out_of_range"),
    ("study_hours_per_week", -5.0, "sentinel"),
    ("study_hours_per_week", 99.0, "sentinel"),  # in range, but nobody studies 99 h a week
    ("study_hours_per_week", 170.0, "out_of_range"),
    ("previous_grade", 999.0, "sentinel"),
    ("previous_grade", -3.0, "out_of_range"),
    ("extracurricular_activities_count", 99, "sentinel"),
    ("extracurricular_activities_count", 51, "out_of_range"),
    ("extracurricular_activities_count", 2.5, "not_integer"),
    ("attendance_rate", "eighty", "unparseable"),
])
def test_impossible_values_are_named_and_imputed(column: str, value: object, rule: str):
    frame = semester(60)
    if column == "extracurricular_activities_count":
        frame[column] = frame[column].astype(float)
    frame = with_cells(frame, (7, column, value))
    result = clean_semester(frame)
    assert flags(result, 7) == [f"{rule}:{column}", f"imputed:{column}"]
    spec = schema.NUMERIC_BY_NAME[column]
    assert spec.low <= float(result.frame.loc[7, column]) <= spec.high
    assert result.report.rules[rule] == 1


def test_plausible_values_that_look_like_sentinels_are_kept():
    frame = with_cells(semester(60), (1, "attendance_rate", 99.0), (2, "previous_grade", 99.0),
                       (3, "final_grade", 99.0), (4, "study_hours_per_week", 20.0))
    result = clean_semester(frame)
    assert result.frame.loc[1, "attendance_rate"] == 99.0
    assert result.frame.loc[2, "previous_grade"] == 99.0
    assert result.frame.loc[3, "final_grade"] == 99.0
    assert result.report.rules["sentinel"] == 0


def test_final_grade_out_of_range_is_made_unknown_never_imputed():
    frame = with_cells(semester(), (0, "final_grade", 135.0), (1, "final_grade", -1.0),
                       (2, "final_grade", np.nan))
    result = clean_semester(frame)
    assert result.frame["final_grade"].iloc[:3].isna().all()
    assert flags(result, 0) == ["final_grade_out_of_range:final_grade"]
    assert flags(result, 1) == ["final_grade_out_of_range:final_grade"]
    assert flags(result, 2) == []  # an unknown grade is normal during the semester
    assert result.report.rules["final_grade_out_of_range"] == 2
    assert result.report.imputed == 0 and not result.frame["excluded"].any()


def test_misspelled_categories_are_fixed_when_unambiguous():
    frame = with_cells(semester(), (0, "gender", "femal"), (1, "parental_support", "hgih"),
                       (2, "gender", "fmale"), (3, "parental_support", "Meduim "))
    result = clean_semester(frame)
    out = result.frame
    assert (out.loc[0, "gender"], out.loc[1, "parental_support"], out.loc[3, "parental_support"]) == \
        ("female", "high", "medium")
    assert flags(result, 0) == ["misspelled_category:gender"]
    # "fmale" is one edit from both female and male: a bad value, imputed.
    assert flags(result, 2) == ["invalid_category:gender", "imputed:gender"]
    assert result.report.rules["misspelled_category"] == 3
    assert result.report.rules["invalid_category"] == 1


def test_aliases_are_normalised_without_a_flag():
    frame = with_cells(semester(), (0, "gender", "F"), (1, "parental_support", "HI"))
    result = clean_semester(frame)
    assert (result.frame.loc[0, "gender"], result.frame.loc[1, "parental_support"]) == ("female", "high")
    assert flags(result, 0) == flags(result, 1) == []


def test_the_same_student_twice_keeps_the_most_recently_updated_row():
    frame = semester(5)
    frame["updated_at"] = [datetime(2026, 2, d, tzinfo=UTC) for d in range(1, 6)]
    newer = frame.iloc[[1]].assign(attendance_rate=55.5, updated_at=datetime(2026, 3, 1, tzinfo=UTC))
    older = frame.iloc[[2]].assign(attendance_rate=11.1, updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    result = clean_semester(pd.concat([frame, newer, older], ignore_index=True))
    out = result.frame.set_index("user_id")
    assert len(out) == 5
    assert out.loc["u001", "attendance_rate"] == 55.5
    assert out.loc["u002", "attendance_rate"] == frame.loc[2, "attendance_rate"]
    assert result.report.dropped["duplicate_user_id"] == 2
    assert result.report.rows_in == 7 and result.report.rows_out == 5


def test_a_row_without_update_time_counts_as_the_oldest_with_stamps_typed_as_stored():
    frame = semester(3)
    unknown = frame.iloc[[0]].assign(attendance_rate=11.1)
    earlier = frame.iloc[[1]].assign(attendance_rate=22.2)
    rows = pd.concat([frame, unknown, earlier], ignore_index=True)
    # As read from the database: one zoned datetime64 column, NaT for an unknown time.
    rows["updated_at"] = pd.to_datetime(["2026-02-01", "2026-02-02", "2026-02-03", None, "2026-01-01"], utc=True)
    assert isinstance(rows["updated_at"].dtype, pd.DatetimeTZDtype)
    out = clean_semester(rows).frame.set_index("user_id")
    assert out.loc["u000", "attendance_rate"] == frame.loc[0, "attendance_rate"]  # not the unknown time
    assert out.loc["u001", "attendance_rate"] == frame.loc[1, "attendance_rate"]  # not the older row


def test_without_updated_at_the_later_row_of_the_file_wins():
    frame = semester(5)
    later = frame.iloc[[0]].assign(previous_grade=42.0)
    result = clean_semester(pd.concat([frame, later], ignore_index=True))
    assert result.frame.set_index("user_id").loc["u000", "previous_grade"] == 42.0


def test_rows_without_user_id_are_dropped_and_counted():
    frame = with_cells(semester(5), (0, "user_id", None), (1, "user_id", "   "))
    result = clean_semester(frame)
    assert result.frame["user_id"].tolist() == ["u002", "u003", "u004"]
    assert result.report.dropped["missing_user_id"] == 2


@pytest.mark.parametrize(("ids", "kept"), [
    # Plain ids, "|" included (the check for plain ids joins them with it), stay as they are.
    (["u000", "a|b", "|c", "d|", "é漢字"], ["u000", "a|b", "|c", "d|", "é漢字"]),
    # One id needing work sends the whole column through the per-id rule.
    (["u000", " u001", "u002\t", "u0\x0003", "u004\u00a0"], ["u000", "u001", "u002", "u003", "u004"]),
    # Each kind alone: white space, Unicode white space, a control character.
    (["u000", " u001 "], ["u000", "u001"]),
    (["u000\u2003", "u001"], ["u000", "u001"]),
    (["u0\x7f00", "u001"], ["u000", "u001"]),
    # An empty id beside ids holding "|": missing, whatever its neighbours hold.
    (["u000|", "", "|u002"], ["u000|", "|u002"]),
    (["|", "u001", ""], ["|", "u001"]),
])
def test_user_ids_are_trimmed_of_white_space_and_control_characters(ids, kept):
    frame = semester(len(ids), user_id=ids)
    result = clean_semester(frame)
    assert sorted(result.frame["user_id"]) == sorted(kept)
    assert result.report.dropped["missing_user_id"] == len(ids) - len(kept)


def test_attendance_given_as_a_fraction_for_the_whole_file_is_converted():
    frame = semester(40)
    truth = frame["attendance_rate"].copy()
    frame["attendance_rate"] = (truth / 100).round(6)
    result = clean_semester(frame)
    assert np.allclose(result.frame["attendance_rate"], truth)
    assert result.report.rules["attendance_fraction"] == 40
    assert result.report.conversions[0]["column"] == "attendance_rate"
    assert result.report.conversions[0]["factor"] == 100


def test_a_few_fractions_in_a_percent_file_are_not_converted():
    frame = semester(40)
    frame.loc[:4, "attendance_rate"] = 0.9
    result = clean_semester(frame)
    assert (result.frame["attendance_rate"].iloc[:5] == 0.9).all()
    assert result.report.rules["attendance_fraction"] == 0


@pytest.mark.parametrize(("top", "factor"), [(20, 5), (10, 10)])
def test_grades_on_a_small_scale_for_the_whole_semester_are_rescaled(top: int, factor: int):
    frame = semester(40)
    truth_prev, truth_final = frame["previous_grade"].copy(), frame["final_grade"].copy()
    frame["previous_grade"] = (truth_prev / factor).round(6)
    frame["final_grade"] = (truth_final / factor).round(6)
    result = clean_semester(frame)
    assert np.allclose(result.frame["previous_grade"], truth_prev)
    assert np.allclose(result.frame["final_grade"], truth_final)
    assert [c["column"] for c in result.report.conversions] == ["previous_grade", "final_grade"]
    assert all(f"0-{top}" in c["description"] for c in result.report.conversions)
    assert result.report.rules["grade_scale"] == 80


def test_grade_scale_is_not_converted_on_ambiguous_or_thin_evidence():
    few = semester(8, final_grade=np.linspace(8, 18, 8))
    assert clean_semester(few).report.conversions == []
    # All grades at most 20 but most of them tiny: not a credible 0-20 class, only a warning.
    odd = semester(40, final_grade=np.r_[np.full(30, 1.0), np.linspace(2, 20, 10)])
    result = clean_semester(odd)
    assert result.report.conversions == []
    assert any("final_grade" in w for w in result.report.warnings)
    assert result.frame["final_grade"].iloc[0] == 1.0


def test_robust_outliers_are_flagged_and_kept():
    frame = with_cells(semester(60), (9, "study_hours_per_week", 140.0))
    result = clean_semester(frame)
    assert result.frame.loc[9, "study_hours_per_week"] == 140.0
    assert "outlier:study_hours_per_week" in flags(result, 9)
    assert not result.frame.loc[9, "excluded"]
    assert result.report.rules["outlier"] >= 1


def test_constant_and_all_missing_features_are_reported():
    frame = semester(20, parental_support="medium", attendance_rate=np.nan)
    result = clean_semester(frame)
    report = result.report
    assert report.features["parental_support"]["constant"]
    assert report.features["attendance_rate"]["all_missing"]
    assert report.rules["constant_feature"] == 1 and report.rules["all_missing_feature"] == 1
    # One bad feature per row: every row kept and imputed from the (default) reference.
    assert report.imputed == 20 and report.excluded == 0
    assert (result.frame["attendance_rate"] == DEFAULT_REFERENCE.medians["attendance_rate"]).all()


def test_zero_grades_in_bulk_are_counted_and_kept():
    frame = semester(100)
    frame.loc[:9, "final_grade"] = 0.0
    frame.loc[:1, "previous_grade"] = 0.0
    result = clean_semester(frame)
    assert (result.frame["final_grade"].iloc[:10] == 0).all()
    zeros = result.report.zero_grades
    assert zeros["final_grade"] == {"count": 10, "share": 0.1, "bulk": True}
    assert zeros["previous_grade"]["count"] == 2 and not zeros["previous_grade"]["bulk"]
    assert "zero_grade:final_grade" in flags(result, 0)
    assert "drop-outs" in result.report.to_markdown()


def test_report_counts_add_up_and_every_rule_is_present():
    frame = with_cells(semester(50), (0, "user_id", None), (1, "gender", "yes"),
                       (2, "gender", None), (2, "attendance_rate", 500.0))
    frame = pd.concat([frame, frame.iloc[[10]]], ignore_index=True)
    report = clean_semester(frame).report
    data = report.to_dict()
    assert set(RULES) <= set(data["rules"])
    assert data["rows_in"] == data["rows_out"] + sum(data["dropped"].values())
    assert data["rows_out"] == data["kept"] + data["excluded"]
    assert data["kept"] == data["clean"] + data["imputed"]
    assert (data["rows_in"], data["rows_out"], data["imputed"], data["excluded"]) == (51, 49, 1, 1)
    assert QualityReport.from_dict(json.loads(json.dumps(data))).to_dict() == data


def test_markdown_lists_fired_rules_with_their_action():
    frame = with_cells(semester(), (0, "attendance_rate", 250.0))
    text = clean_semester(frame).report.to_markdown("Semester 2026-01-12_2026-06-30")
    assert text.startswith("### Semester 2026-01-12_2026-06-30")
    assert "| out_of_range | 1 | attendance_rate 1 |" in text
    assert RULES["out_of_range"] in text


def test_fit_reference_uses_valid_not_imputed_cells_and_round_trips_as_json():
    frame = semester(40)
    frame.loc[0, "attendance_rate"] = 500.0  # invalid: ignored
    frame["quality_flags"] = ""
    frame.loc[1, "quality_flags"] = "imputed:previous_grade"
    frame.loc[1, "previous_grade"] = 1000.0 / 11  # an imputed value: ignored too
    reference = fit_reference(frame)
    assert reference.medians["attendance_rate"] == pytest.approx(frame["attendance_rate"].iloc[1:].median())
    assert reference.medians["previous_grade"] == pytest.approx(frame["previous_grade"].drop(1).median())
    counts = frame["parental_support"].value_counts()
    levels = schema.SUPPORT_LEVELS
    assert reference.modes["parental_support"] == max(
        levels, key=lambda c: (counts.get(c, 0), -levels.index(c)))
    assert reference.medians["extracurricular_activities_count"] == int(
        reference.medians["extracurricular_activities_count"])
    again = CleaningReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    assert again == reference


def test_cleaning_with_a_reference_is_idempotent_and_flags_are_kept():
    frame = with_cells(semester(60), (0, "attendance_rate", 300.0), (1, "gender", "femal"),
                       (2, "gender", "x-ray"), (2, "previous_grade", -1.0),
                       (3, "study_hours_per_week", 150.0))
    reference = fit_reference(semester(200, seed=9))
    first = clean_semester(frame, reference)
    second = clean_semester(first.frame, reference)
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert second.report.imputed == 0


def test_input_without_optional_columns_is_cleaned():
    frame = semester(10).drop(columns=["start_date_period", "end_date_period", "final_grade"])
    result = clean_semester(frame)
    assert result.frame["final_grade"].isna().all()
    assert result.frame["start_date_period"].isna().all()
    assert len(result.frame) == 10


def test_empty_input_gives_an_empty_result():
    result = clean_semester(semester(0))
    assert result.frame.empty and list(result.frame.columns) == list(OUTPUT_COLUMNS)
    assert result.report.rows_in == result.report.rows_out == 0
