"""The row path: Python's csv module, row by row, for ragged files and JSON records."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

import pandas as pd

from gradewatch import schema
from gradewatch.intake.reader.cells import ParsedCsv, RowError, convert_columns, finish, short_row_error
from gradewatch.intake.reader.decoding import SAVE_AS_CSV, CsvRejected
from gradewatch.intake.reader.fast_path import CHUNK_ROWS
from gradewatch.intake.reader.layout import HeaderMap, Layout, id_pattern, map_header


def parse_text_rows(raw: bytes, layout: Layout) -> ParsedCsv:
    """The row-by-row reader (Python's csv module) over the decoded text, header skipped."""
    text = raw.decode(layout.encoding)
    _refuse_unclosed_quote(text, layout.delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    next(reader)
    try:
        return _parse_rows(reader, layout.header_map, width=layout.width, named_width=layout.named_width,
                           ids=layout.ids)
    except csv.Error as exc:
        raise CsvRejected(
            f"The file is not valid CSV near line {reader.line_num}: {exc}. " + SAVE_AS_CSV
        ) from exc

def _refuse_unclosed_quote(text: str, delimiter: str) -> None:
    """CsvRejected when a quote opens a cell that the file never closes.

    The csv module would read everything after it as one cell: in the first column, one
    student whose id is the rest of the file. Only a file with an odd number of quotes can
    hold one, so only such a file is read a second time, strictly.
    """
    if text.count('"') % 2 == 0:
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row_start = 1
    try:
        for _ in reader:
            row_start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            return  # another oddity, which the lenient reader reads as the C parser does
        raise CsvRejected(
            f"A quote (\") opened on line {row_start} is never closed, so everything after it "
            "would be read as one cell. Nothing was stored: remove the stray quote (or close it) "
            "and upload the file again."
        ) from exc


def read_records(records: Iterable[dict[str, object]],
                 user_id_pattern: str = schema.DEFAULT_USER_ID_PATTERN) -> ParsedCsv:
    """Parse JSON records (``POST /predict``) through exactly the same rules as a CSV file."""
    records = list(records)
    if not records or not all(isinstance(r, dict) for r in records):
        raise CsvRejected("Send a non-empty JSON list of objects, one per student.")
    header: list[str] = []
    for record in records:
        header.extend(str(k) for k in record if str(k) not in header)
    header_map = map_header(header)
    if not header_map.kept:
        raise CsvRejected("None of the keys is one GradeWatch knows (such as user_id, gender or "
                          "attendance_rate): send one object per student with those keys.")
    rows = (["" if r.get(h) is None else str(r.get(h)) for h in header] for r in records)
    return _parse_rows(rows, header_map, width=len(header), named_width=len(header),
                       ids=id_pattern(user_id_pattern))

def _parse_rows(rows: Iterator[list[str]], header_map: HeaderMap, *, width: int,
                named_width: int, ids: re.Pattern[str]) -> ParsedCsv:
    frames: list[pd.DataFrame] = []
    errors: list[RowError] = []
    notes: list[RowError] = []
    received = 0
    row_number = 1  # the header
    indices = list(header_map.kept)
    chunk: list[list[str]] = []
    numbers: list[int] = []

    def flush() -> None:
        if chunk:
            frame, chunk_errors, chunk_notes = convert_columns(list(zip(*chunk, strict=True)), numbers,
                                                                header_map.columns, ids)
            frames.append(frame)
            errors.extend(chunk_errors)
            notes.extend(chunk_notes)
            chunk.clear()
            numbers.clear()

    for fields in rows:
        row_number += 1
        if not any(f.strip() for f in fields):
            continue  # blank lines, and rows of empty cells, as spreadsheets leave at the end
        received += 1
        if len(fields) > width and any(f.strip() for f in fields[width:]):
            errors.append(RowError(row_number, None, "this row has more cells than the header has columns"))
            continue
        if len(fields) < named_width:
            # A truncated line: reading its missing cells as empty would erase stored values.
            errors.append(short_row_error(row_number, len(fields), named_width))
            continue
        chunk.append([fields[i] if i < len(fields) else "" for i in indices])
        numbers.append(row_number)
        if len(chunk) >= CHUNK_ROWS:
            flush()
    flush()
    return finish(frames, errors, received, header_map, notes)
