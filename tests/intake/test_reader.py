"""The CSV reader on the shapes real exports take. Pure parsing: no database."""

from __future__ import annotations

import math

import pytest

from gradewatch.intake.reader import CsvRejected, read_csv_bytes, read_records

HEADER = "user_id,gender,attendance_rate,study_hours_per_week,previous_grade," \
         "extracurricular_activities_count,parental_support"


def parse(text: str, encoding: str = "utf-8"):
    return read_csv_bytes(text.encode(encoding))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters(delimiter: str) -> None:
    text = HEADER.replace(",", delimiter) + "\n" + delimiter.join(
        ["a1", "female", "90", "5", "70", "1", "low"]) + "\n"
    parsed = parse(text)
    assert parsed.frame.loc[0, "attendance_rate"] == 90
    assert parsed.frame.loc[0, "parental_support"] == "low"


def test_utf8_bom_crlf_quotes_trailing_lines_and_columns() -> None:
    text = "\ufeff" + HEADER + ",,\r\n" + '"a1","Female","90.5","5","70","1","High",,\r\n\r\n,,,,,,,,\r\n\r\n'
    parsed = parse(text)
    assert parsed.rows_received == 1
    assert parsed.errors == []
    row = parsed.frame.iloc[0]
    assert (row["user_id"], row["gender"], row["attendance_rate"]) == ("a1", "female", 90.5)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_and_windows_1252(encoding: str) -> None:
    text = "Matrícula;Élève;" + HEADER.replace(",", ";") + "\n" + "x;Zoë Müller;é1;F;90;5;70;1;low\n"
    parsed = parse(text, encoding)
    assert parsed.frame.loc[0, "user_id"] == "é1"
    assert "Élève" in parsed.dropped_columns


def test_number_formats() -> None:
    text = HEADER + ",final_grade\n" + '1,F,85%,"7,5",70.0,3.0,high," 8 1 ,5"\n'
    row = parse(text).frame.iloc[0]
    assert row["attendance_rate"] == 85
    assert row["study_hours_per_week"] == 7.5
    assert row["extracurricular_activities_count"] == 3
    assert row["final_grade"] == 81.5


@pytest.mark.parametrize(("raw", "expected"), [
    ("F", "female"), (" Male ", "male"), ("HIGH", "high"), ("m", "male"), ("non-binary", "other"),
])
def test_category_spellings(raw: str, expected: str) -> None:
    column = "parental_support" if expected == "high" else "gender"
    text = f"user_id,{column},final_grade\n1,{raw},50\n"
    assert parse(text).frame.loc[0, column] == expected


def test_unknown_category_is_kept_for_cleaning() -> None:
    parsed = parse("user_id,gender,final_grade\n1, Femal ,50\n")
    assert parsed.frame.loc[0, "gender"] == "femal"
    assert parsed.errors == []


def test_float_formatted_ids_and_aliases() -> None:
    parsed = parse("StudentID,Attendance Rate (%),FinalGrade\n1234.0,88,70\n")
    assert parsed.columns == ("user_id", "attendance_rate", "final_grade")
    assert parsed.frame.loc[0, "user_id"] == "1234"


def test_row_errors_carry_spreadsheet_rows_and_no_values() -> None:
    text = HEADER + "\n" + "\n".join([
        "a,F,90,5,70,1,low",
        "b,F,ninety,5,70,1,low",       # row 3
        ",F,90,5,70,1,low",            # row 4: no id
        "c,F,90,5,70,1.5,low",         # row 5: not whole
        "d,F,90,5,70,1,low,extra",     # row 6: too many cells
    ]) + "\n"
    parsed = parse(text)
    assert [(e.row, e.column) for e in parsed.errors] == [
        (3, "attendance_rate"), (4, "user_id"), (5, "extracurricular_activities_count"), (6, None)]
    assert list(parsed.frame["user_id"]) == ["a"]
    assert not any("ninety" in e.message for e in parsed.errors)


def test_missing_markers_are_empty_not_errors() -> None:
    parsed = parse(HEADER + "\na,F,N/A,,70,1,low\n")
    assert parsed.errors == []
    assert math.isnan(parsed.frame.loc[0, "attendance_rate"])
    assert math.isnan(parsed.frame.loc[0, "study_hours_per_week"])


@pytest.mark.parametrize(("raw", "fragment"), [
    (b"", "empty"),
    (b"   \r\n\r\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
    (b"PK\x03\x04rest-of-xlsx", "Excel"),
    (b"user_id,final_grade\n", "no data rows"),
    (b"name,email\nAnn,a@x.org\n", "None of the columns"),
    ("user_id,gender\n1,テストテストテストテストテスト\n".encode("shift_jis"), "does not read"),
    ("user_id,gender\n1,female\n".encode("utf-16"), "UTF-16"),
    (b"user_id,gender\n1,fe\x01male\n", "control characters"),
])
def test_unusable_files_are_refused_with_a_reason(raw: bytes, fragment: str) -> None:
    with pytest.raises(CsvRejected, match=fragment):
        read_csv_bytes(raw)


def test_json_records_follow_the_same_rules() -> None:
    parsed = read_records([{"StudentID": 7, "Gender": "F", "AttendanceRate": "85%", "Name": "Ann"}])
    assert parsed.frame.loc[0, "user_id"] == "7"
    assert parsed.frame.loc[0, "attendance_rate"] == 85
    assert parsed.dropped_columns == ["Name"]
