"""The generative model, the error injection and the manifest of ``gradewatch.synthetic.generator``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gradewatch import schema
from gradewatch.intake.reader import read_csv_bytes
from gradewatch.quality.categories import match_category
from gradewatch.semesters import Period
from gradewatch.synthetic.config import ERROR_KINDS, ROW_KINDS, GeneratorConfig
from gradewatch.synthetic.errors import INVALID, TYPOS
from gradewatch.synthetic.generator import MODEL, generate, semester_periods, write_semesters


def ols(truth: pd.DataFrame) -> dict[str, float]:
    """Least squares of the final grade on the model's terms (drop-outs and clipped rows out)."""
    rows = truth[(truth["final_grade"] > 0) & (truth["final_grade"] < 100)]
    support = rows["parental_support"]
    extra = rows["extracurricular_activities_count"].to_numpy(dtype=float)
    terms = {
        "intercept": np.ones(len(rows)),
        "b_previous": rows["previous_grade"].to_numpy(),
        "b_attendance": rows["attendance_rate"].to_numpy() - 88,
        "b_hours": rows["study_hours_per_week"].to_numpy() - 10,
        "b_support": (support == "high").astype(float).to_numpy() - (support == "low").astype(float).to_numpy(),
        "b_extra": np.minimum(extra, 3),
        "gender_male": (rows["gender"] == "male").astype(float).to_numpy(),
    }
    x = np.column_stack(list(terms.values()))
    coefficients, *_ = np.linalg.lstsq(x, rows["final_grade"].to_numpy(), rcond=None)
    result = dict(zip(terms, coefficients, strict=True))
    result["noise"] = float(np.std(rows["final_grade"].to_numpy() - x @ coefficients))
    return result


def test_the_final_grade_follows_the_documented_model():
    truth = generate(GeneratorConfig(semesters=1, students=30_000, seed=11, with_final_grades=True))[0].truth
    fit = ols(truth)
    for name, tolerance in (("b_previous", 0.02), ("b_attendance", 0.03), ("b_hours", 0.04),
                            ("b_support", 0.3), ("b_extra", 0.2)):
        assert fit[name] == pytest.approx(MODEL[name], abs=tolerance), name
    assert abs(fit["gender_male"]) < 0.3  # gender has no effect by construction
    assert fit["noise"] == pytest.approx(MODEL["noise"], abs=0.3)
    assert (truth["final_grade"] == 0).mean() == pytest.approx(MODEL["dropout_rate"], abs=0.005)
    assert truth["gender"].value_counts(normalize=True)["female"] == pytest.approx(0.49, abs=0.015)
    assert truth["parental_support"].value_counts(normalize=True)["medium"] == pytest.approx(0.45, abs=0.015)
    assert 60 <= truth["final_grade"].mean() <= 75


def test_clean_values_are_in_range_and_written_like_an_export():
    semester = generate(GeneratorConfig(semesters=1, students=500, seed=1, with_final_grades=True))[0]
    for spec in schema.NUMERIC_FEATURES:
        assert semester.truth[spec.name].between(spec.low, spec.high).all()
    text = semester.csv_bytes().decode()
    header = text.splitlines()[0]
    assert header == ("StudentID,Gender,AttendanceRate,StudyHoursPerWeek,PreviousGrade,"
                      "ExtracurricularActivities,ParentalSupport,FinalGrade")
    assert all(schema.canonical_column(h) for h in header.split(","))
    assert semester.sheet.errors == [] and semester.sheet.file_errors == []


def test_without_final_grades_the_column_is_absent():
    semester = generate(GeneratorConfig(semesters=1, students=50, seed=1))[0]
    assert "FinalGrade" not in semester.csv_bytes().decode().splitlines()[0]
    assert semester.truth["final_grade"].isna().all()


@pytest.mark.parametrize("drift", ["attendance", "both"])
def test_attendance_drift_lowers_attendance_from_the_given_semester(drift: str):
    semesters = generate(GeneratorConfig(semesters=4, students=5000, seed=3, drift=drift, drift_from=3,
                                         with_final_grades=True))
    means = [s.truth["attendance_rate"].mean() for s in semesters]
    assert [s.drifted for s in semesters] == [False, False, True, True]
    assert abs(means[1] - means[0]) < 1
    assert means[0] - means[2] > 9 and means[1] - means[3] > 9


def test_relation_drift_changes_the_effect_of_study_hours():
    before, after = generate(GeneratorConfig(semesters=2, students=20_000, seed=5, drift="relation",
                                             with_final_grades=True))
    assert (before.drifted, after.drifted) == (False, True)
    assert ols(before.truth)["b_hours"] == pytest.approx(MODEL["b_hours"], abs=0.05)
    assert ols(after.truth)["b_hours"] == pytest.approx(MODEL["drift_b_hours"], abs=0.05)
    assert ols(after.truth)["b_previous"] == pytest.approx(MODEL["drift_b_previous"], abs=0.03)
    assert abs(before.truth["attendance_rate"].mean() - after.truth["attendance_rate"].mean()) < 1


def test_generation_is_deterministic_in_the_seed():
    config = GeneratorConfig(semesters=2, students=300, seed=9, error_rate=0.2, pii=True,
                             with_final_grades=True)
    first, again = generate(config), generate(config)
    assert [s.csv_bytes() for s in first] == [s.csv_bytes() for s in again]
    assert [s.manifest() for s in first] == [s.manifest() for s in again]
    other = generate(GeneratorConfig(semesters=2, students=300, seed=10, error_rate=0.2))
    assert first[0].csv_bytes() != other[0].csv_bytes()


def test_error_rate_is_the_share_of_students_with_a_row_error():
    semester = generate(GeneratorConfig(semesters=1, students=5000, seed=2, error_rate=0.1,
                                        with_final_grades=True, error_kinds=ROW_KINDS))[0]
    students = {e["user_id"] for e in semester.sheet.errors}
    assert len(students) == len(semester.sheet.errors)  # one error per row
    assert len(students) / 5000 == pytest.approx(0.1, abs=0.015)
    kinds = pd.Series([e["kind"] for e in semester.sheet.errors]).value_counts()
    assert set(kinds.index) == set(ROW_KINDS)  # every row kind shows up


def test_every_kind_can_be_injected_on_its_own():
    for kind in ERROR_KINDS:
        semester = generate(GeneratorConfig(semesters=1, students=400, seed=4, error_rate=0.1,
                                            error_kinds=(kind,), file_error_rate=1.0,
                                            with_final_grades=True))[0]
        kinds = {e["kind"] for e in semester.sheet.errors} | {e["kind"] for e in semester.sheet.file_errors}
        assert kinds == {kind}, kind


def test_file_format_kinds_change_the_bytes_not_the_values():
    base = dict(semesters=1, students=200, seed=8, error_rate=0.01, file_error_rate=1.0,
                with_final_grades=True)
    plain = generate(GeneratorConfig(**base, error_kinds=("stray_whitespace",), )).pop()
    bom = generate(GeneratorConfig(**base, error_kinds=("bom",))).pop().csv_bytes()
    semicolon = generate(GeneratorConfig(**base, error_kinds=("semicolon",))).pop().csv_bytes()
    comma = generate(GeneratorConfig(**base, error_kinds=("decimal_comma",))).pop().csv_bytes()
    assert bom.startswith(b"\xef\xbb\xbf")
    assert semicolon.splitlines()[0].count(b";") == 7
    assert b";" in comma.splitlines()[1] and b"," in comma.splitlines()[1]
    frames = [read_csv_bytes(raw).frame.drop(columns="row") for raw in (bom, semicolon, comma)]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    assert plain.sheet.errors  # whitespace rows exist and still read as the clean values
    read = read_csv_bytes(plain.csv_bytes()).frame
    assert read["gender"].isin(schema.GENDERS).all()


def test_curated_typos_are_unambiguous_and_invalid_values_are_not_categories():
    for category, typos in TYPOS.items():
        column = "gender" if category in schema.GENDERS else "parental_support"
        for typo in typos:
            assert schema.normalise_category(column, typo) == typo  # not an alias
            assert match_category(column, typo) == category, typo
    for column, values in INVALID.items():
        for value in values:
            assert match_category(column, schema.normalise_category(column, value)) is None
            assert schema.normalise_category(column, value) not in schema.CATEGORICAL_BY_NAME[column].categories


def test_pii_columns_are_written_only_on_request_and_never_read():
    with_pii = generate(GeneratorConfig(semesters=1, students=100, seed=6, pii=True))[0]
    without = generate(GeneratorConfig(semesters=1, students=100, seed=6))[0]
    header = with_pii.csv_bytes().decode().splitlines()[0].split(",")
    assert header[1:4] == ["Name", "Email", "Phone"]
    assert "Name" not in without.csv_bytes().decode().splitlines()[0]
    parsed = read_csv_bytes(with_pii.csv_bytes())
    assert parsed.dropped_columns == ["Name", "Email", "Phone"]
    emails = set(with_pii.sheet.pii["Email"])
    assert not emails & set(parsed.frame.astype(str).to_numpy().ravel())


def test_periods_alternate_and_name_the_files():
    periods = semester_periods(4, 2026)
    assert [p.key for p in periods] == ["2026-01-12_2026-06-30", "2026-09-01_2026-12-18",
                                        "2027-01-12_2027-06-30", "2027-09-01_2027-12-18"]


def test_write_semesters_writes_files_named_by_period_and_a_manifest_of_ground_truth(tmp_path: Path):
    config = GeneratorConfig(semesters=3, students=400, seed=12, error_rate=0.2, pii=True,
                             with_final_grades=True, drift="attendance")
    manifest_path = write_semesters(config, tmp_path)
    manifest = json.loads(manifest_path.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [s["file"] for s in manifest["semesters"]] + ["manifest.json"])
    assert manifest["config"]["seed"] == 12 and manifest["model"] == MODEL
    truths = {s.period.key: s.truth.set_index("user_id") for s in generate(config)}
    for entry in manifest["semesters"]:
        assert Period.from_key(entry["file"]).key == entry["period"]
        lines = list(csv.reader(io.StringIO((tmp_path / entry["file"]).read_text(encoding="utf-8-sig")),
                                delimiter=entry["format"]["delimiter"]))
        assert len(lines) - 1 == entry["expected"]["rows_written"]
        for error in entry["errors"]:
            cells = lines[error["row"] - 1]  # row numbers as a spreadsheet shows them
            written = error["written"] if isinstance(error["written"], dict) else {"": error["written"]}
            assert all(text in cells for text in written.values()), error
            if error["kind"] != "missing_user_id":
                assert cells[0] == error["user_id"]
            claimed = error["truth"] if isinstance(error["truth"], dict) else {error["column"]: error["truth"]}
            for column, value in claimed.items():
                if column in schema.FEATURES and value is not None:
                    truth = truths[entry["period"]].at[error["user_id"], column]
                    assert value == (truth.item() if hasattr(truth, "item") else truth)
        assert sum(entry["expected"]["by_kind"].values()) == len(entry["errors"])


def test_config_rejects_unknown_kinds_and_bad_values():
    with pytest.raises(ValueError, match="unknown error kind"):
        GeneratorConfig(error_kinds=("typo_storm",))
    with pytest.raises(ValueError, match="drift"):
        GeneratorConfig(drift="sideways")
    with pytest.raises(ValueError, match="between 0 and 1"):
        GeneratorConfig(error_rate=1.5)
