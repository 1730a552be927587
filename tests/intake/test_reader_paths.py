"""The reader's three paths agree: C parser with typed numbers, C parser as text, row by row.

``read_csv_bytes`` tries pandas' C parser with number columns read straight to float64, falls
back to the C parser reading every cell as text when a number needs the lenient rules (85%,
7,5), and to Python's csv module row by row when rows are ragged. Whichever path reads a file,
the result must be the same: the same typed frame, the same row errors with the same spreadsheet
row numbers, the same count of received rows. Hypothesis generates well-formed but awkward CSV
files (quotes, delimiters and line breaks inside cells, blank lines, short and long rows, missing
markers, percent strings, decimal commas, whitespace-only cells, BOM, CRLF, Windows-1252) and
compares every path that accepts each one.
"""

from __future__ import annotations

import codecs
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gradewatch.intake.reader import CsvRejected, ParsedCsv, fast_path, file_layout, read_csv_bytes, row_path

IDS = ["a1", "1234.0", "12.50", " b2 ", "NA", "n/a", "", " ", "x" * 65, "é1", "007", "1.0", "€5", "10"]
NUMBERS = ["85", "85.5", "85%", "7,5", " 8 1 ,5", "N/A", "na", "-", "--", "?", "NULL", "None", "",
           " ", "3.0", "1.5", "inf", "1e3", "nan", "NaN", "+5", ".5", "abc", " 7 ", "0", "-2"]
CATEGORIES = ["F", " Male ", "HIGH", "m", "non-binary", "", "N/A", "y" * 41, "Female", "low", "  "]
DATES = ["2026-01-12", "2026-06-30", "12/01/2026", "", "2026-1-12", " 2026-01-12 "]
OTHER = ["Ann", "", " ", "a@b.org", 'say "hi"', "a,b", "a;b", "line\nbreak", "Zoë", "\t"]

COLUMNS = {  # header label -> cells it draws from
    "user_id": IDS, "StudentID": IDS,
    "gender": CATEGORIES, "parental_support": CATEGORIES,
    "attendance_rate": NUMBERS, "study_hours_per_week": NUMBERS, "previous_grade": NUMBERS,
    "extracurricular_activities_count": NUMBERS, "final_grade": NUMBERS,
    "start_date_period": DATES,
    "Name": OTHER, "Email": OTHER,
}
KEPT_LABELS = [c for c in COLUMNS if c not in ("Name", "Email")]


def _quoted(cell: str, delimiter: str, force: bool) -> str:
    if force or any(c in cell for c in (delimiter, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def csv_files(draw) -> bytes:
    labels = draw(st.lists(st.sampled_from(list(COLUMNS)), min_size=1, max_size=6, unique=True))
    if not any(label in KEPT_LABELS for label in labels):
        labels.append(draw(st.sampled_from(KEPT_LABELS)))
    trailing_empty = draw(st.integers(0, 2))  # a spreadsheet's empty trailing header cells
    header = labels + [""] * trailing_empty
    width = len(header)
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    pools = [COLUMNS[label] for label in labels] + [OTHER] * trailing_empty
    lines = [delimiter.join(header)]
    for _ in range(draw(st.integers(1, 8))):
        shape = draw(st.sampled_from(["full", "full", "full", "short", "long", "blank", "empty-cells"]))
        if shape == "blank":
            lines.append("")
            continue
        if shape == "empty-cells":
            cells = [draw(st.sampled_from(["", " ", '""'])) for _ in range(width)]
            lines.append(delimiter.join(cells))
            continue
        size = {"full": width, "short": draw(st.integers(1, width)),
                "long": width + draw(st.integers(1, 2))}[shape]
        cells = []
        for index in range(size):
            pool = pools[index] if index < width else ["", " ", "extra", "5"]
            cell = draw(st.sampled_from(pool))
            cells.append(_quoted(cell, delimiter, draw(st.booleans()) and draw(st.booleans())))
        lines.append(delimiter.join(cells))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding)


def _same(left: ParsedCsv, right: ParsedCsv, label: str) -> None:
    assert left.columns == right.columns, label
    assert left.dropped_columns == right.dropped_columns, label
    assert left.rows_received == right.rows_received, label
    assert left.errors == right.errors, label
    assert left.notes == right.notes, label
    a, b = left.frame, right.frame
    assert list(a.columns) == list(b.columns), label
    assert len(a) == len(b), label
    if len(a):
        pd.testing.assert_frame_equal(a, b, check_dtype=True, obj=label)


def _each_path(raw: bytes) -> dict[str, ParsedCsv | Exception]:
    """The result (or the refusal) of every path on ``raw``; a path that does not apply is left out."""
    layout = file_layout(raw)
    results: dict[str, ParsedCsv | Exception] = {}
    for name, parse in (("typed", lambda: fast_path.parse_fast(raw, layout, typed=True)),
                        ("text", lambda: fast_path.parse_fast(raw, layout, typed=False)),
                        ("rows", lambda: row_path.parse_text_rows(raw, layout))):
        try:
            results[name] = parse()
        except CsvRejected as exc:
            results[name] = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
            # The typed C parser refuses lenient numbers, both C paths ragged rows: the dispatcher
            # then moves on to the next path, which is what the other results check.
            continue
    return results


def _assert_paths_agree(raw: bytes) -> None:
    try:
        reference = read_csv_bytes(raw)
    except CsvRejected as exc:
        reference = exc
    try:
        paths = _each_path(raw)
    except CsvRejected:
        assert isinstance(reference, CsvRejected)
        return
    assert "rows" in paths  # the row-by-row reader reads every file the header check accepts
    for name, result in paths.items():
        if isinstance(reference, CsvRejected) or isinstance(result, CsvRejected):
            assert str(result) == str(reference), name
        else:
            _same(reference, result, name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
@example(b"user_id,final_grade\na,50,7\nb,60\n")  # a short row after a wide first row
@example(b"user_id,attendance_rate,Name\n,,Ann\n")  # only a dropped column holds something
@example(b"user_id,attendance_rate\n ,\t\na,5\n")  # whitespace-only cells: a blank row
@example(b"user_id,attendance_rate\n,N/A\na,5\n")  # a marker alone: not a blank row
@example(b"user_id,attendance_rate\na,5\n,,\n\n")  # trailing empty rows
def test_every_path_reads_a_file_the_same_way(raw: bytes) -> None:
    _assert_paths_agree(raw)


def test_typed_path_is_the_one_taken_for_a_clean_file(monkeypatch) -> None:
    raw = b"user_id,attendance_rate,gender\na,90,F\nb,,M\n\n"
    calls: list[bool] = []
    original = fast_path.parse_fast
    monkeypatch.setattr(fast_path, "parse_fast",
                        lambda raw, layout, *, typed: calls.append(typed) or original(raw, layout, typed=typed))
    parsed = read_csv_bytes(raw)
    assert calls == [True]
    assert parsed.rows_received == 2
    assert math.isnan(parsed.frame.loc[1, "attendance_rate"])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_bytes_are_decoded_by_pandas_as_the_text_would_be(encoding: str) -> None:
    text = "user_id;gender;Nom\r\né1;F;Zoë\r\n\"a;€\";m;x\r\n"
    if encoding == "latin-1":
        text = text.replace("€", "¤")
    raw = text.encode(encoding)
    parsed = read_csv_bytes(raw)
    assert list(parsed.frame["user_id"]) == ["é1", "a;" + ("€" if encoding != "latin-1" else "¤")]
    _assert_paths_agree(raw)


def test_ascii_control_characters_are_refused_without_decoding() -> None:
    for raw in (b"user_id\na\x1fb\n", codecs.BOM_UTF8 + b"user_id\na\x7f\n"):
        with pytest.raises(CsvRejected, match="control characters"):
            read_csv_bytes(raw)
    # A tab is text, not a control character (it is no part of an id, which 13.2 checks).
    parsed = read_csv_bytes(codecs.BOM_UTF8 + b"user_id,Note\r\na,x\ty\r\n")
    assert parsed.frame.loc[0, "user_id"] == "a" and parsed.errors == []
