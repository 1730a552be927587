"""Cleaning scored against the ground truth of generated semesters, one error kind at a time.

For every kind: at least 99% of the injected errors handled (fixed, imputed, excluded, dropped,
flagged, converted or reported, as documented in gradewatch.synthetic.errors), and at most
0.5% of the clean values altered. Files go through the real CSV reader first, as uploads do.
"""

from __future__ import annotations

import pytest

from gradewatch.intake.reader import ParsedCsv, read_csv_bytes
from gradewatch.quality.cleaning import CleaningResult, clean_semester, fit_reference
from gradewatch.synthetic.config import ERROR_KINDS, FILE_KINDS, ROW_KINDS, GeneratorConfig
from gradewatch.synthetic.generator import SyntheticSemester, generate
from gradewatch.synthetic.scoring import CleaningScore, score_cleaning

STUDENTS = 2000


def one_semester(kind: str, seed: int) -> SyntheticSemester:
    config = GeneratorConfig(
        semesters=1, students=STUDENTS, seed=seed, with_final_grades=True,
        error_rate=0.15 if kind in ROW_KINDS else 0.01, error_kinds=(kind,), file_error_rate=1.0,
        pii=True)
    return generate(config)[0]


def through_reader(semester: SyntheticSemester) -> tuple[ParsedCsv, CleaningResult]:
    parsed = read_csv_bytes(semester.csv_bytes())
    assert parsed.dropped_columns == (["Name", "Email", "Phone"] if semester.sheet.pii else [])
    return parsed, clean_semester(parsed.frame)


def assert_scored(score: CleaningScore, kind: str) -> None:
    assert score.injected.get(kind, 0) > 0, f"no {kind} error was injected"
    assert score.recall(kind) >= 0.99, (kind, score.summary(), {k: v[:5] for k, v in score.misses.items()})
    assert score.altered_share <= 0.005, (kind, score.summary())
    assert score.clean_cells > STUDENTS  # the altered share is measured on real volume


def test_there_are_at_least_twelve_kinds_covering_every_rule():
    assert len(ERROR_KINDS) >= 12
    assert len(ROW_KINDS) >= 12 and len(FILE_KINDS) >= 9


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_each_error_kind_is_handled_through_reader_and_cleaning(kind: str):
    semester = one_semester(kind, seed=ERROR_KINDS.index(kind) + 100)
    parsed, result = through_reader(semester)
    assert_scored(score_cleaning(semester, result.frame, result.report), kind)
    expected = semester.sheet.expected()
    report = result.report
    # The reader rejects rows without an id; cleaning drops the older duplicate copies.
    assert parsed.rejected_rows == expected["missing_user_id"]
    assert report.dropped["duplicate_user_id"] == expected["duplicate_rows"]
    assert (report.rows_out, report.imputed, report.excluded) == \
        (expected["rows_out"], expected["imputed"], expected["excluded"])
    assert report.rules["final_grade_out_of_range"] == expected["final_grade_out_of_range"]
    assert report.rules["misspelled_category"] == expected["misspelled_category"]


@pytest.mark.parametrize("kind", [k for k in ERROR_KINDS if k not in ("bom", "semicolon", "decimal_comma")])
def test_each_error_kind_is_handled_on_parsed_rows(kind: str):
    """The library alone, on the rows as the reader returns them (no file format involved)."""
    semester = one_semester(kind, seed=ERROR_KINDS.index(kind) + 200)
    result = clean_semester(semester.parsed)
    assert_scored(score_cleaning(semester, result.frame, result.report), kind)
    expected = semester.sheet.expected()
    assert result.report.dropped == {"missing_user_id": expected["missing_user_id"],
                                     "duplicate_user_id": expected["duplicate_rows"]}
    assert (result.report.imputed, result.report.excluded) == (expected["imputed"], expected["excluded"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_kinds_together_with_drift(seed: int):
    config = GeneratorConfig(semesters=3, students=1500, seed=seed, with_final_grades=True,
                             error_rate=0.25, file_error_rate=0.5, pii=True, drift="both", drift_from=2)
    reference = None
    for semester in generate(config):
        _, result = through_reader(semester)
        if reference is not None:  # later semesters: impute from the previous one, as training does
            result = clean_semester(read_csv_bytes(semester.csv_bytes()).frame, reference)
            assert result.report.reference_source == "training"
        reference = fit_reference(result.frame)
        score = score_cleaning(semester, result.frame, result.report)
        for kind in score.injected:
            assert score.recall(kind) >= 0.99, (semester.period.key, kind, score.summary())
        assert score.altered_share <= 0.005, score.summary()
        expected = semester.sheet.expected()
        assert (result.report.imputed, result.report.excluded) == (expected["imputed"], expected["excluded"])


def test_a_clean_generated_semester_is_left_alone():
    semester = generate(GeneratorConfig(semesters=1, students=3000, seed=7, with_final_grades=True))[0]
    _, result = through_reader(semester)
    score = score_cleaning(semester, result.frame, result.report)
    assert score.altered_cells == 0 and score.clean_cells == 3000 * 7
    assert result.report.imputed == result.report.excluded == 0
    assert result.report.conversions == []
