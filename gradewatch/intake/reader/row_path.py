"""The row path: Python's csv module, row by row, for ragged files and JSON records."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import pandas as pd

from gradewatch.intake.reader.cells import ParsedCsv, RowError, convert_columns, finish
from gradewatch.intake.reader.decoding import SAVE_AS_CSV, CsvRejected
from gradewatch.intake.reader.fast_path import CHUNK_ROWS
from gradewatch.intake.reader.layout import HeaderMap, Layout, map_header


def parse_text_rows(raw: bytes, layout: Layout) -> ParsedCsv:
    """The row-by-row reader (Python's csv module) over the decoded text, header skipped."""
    text = raw.decode(layout.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    next(reader)
    try:
        return _parse_rows(reader, layout.header_map, width=layout.width)
    except csv.Error as exc:
        raise CsvRejected(
            f"The file is not valid CSV near line {reader.line_num}: {exc}. " + SAVE_AS_CSV
        ) from exc

def read_records(records: Iterable[dict[str, object]]) -> ParsedCsv:
    """Parse JSON records (``POST /predict``) through exactly the same rules as a CSV file."""
    records = list(records)
    if not records or not all(isinstance(r, dict) for r in records):
        raise CsvRejected("Send a non-empty JSON list of objects, one per student.")
    header: list[str] = []
    for record in records:
        header.extend(str(k) for k in record if str(k) not in header)
    rows = (["" if r.get(h) is None else str(r.get(h)) for h in header] for r in records)
    return _parse_rows(rows, map_header(header), width=len(header))

def _parse_rows(rows: Iterator[list[str]], header_map: HeaderMap, *, width: int) -> ParsedCsv:
    frames: list[pd.DataFrame] = []
    errors: list[RowError] = []
    received = 0
    row_number = 1  # the header
    indices = list(header_map.kept)
    chunk: list[list[str]] = []
    numbers: list[int] = []

    def flush() -> None:
        if chunk:
            frame, chunk_errors = convert_columns(list(zip(*chunk, strict=True)), numbers,
                                                   header_map.columns)
            frames.append(frame)
            errors.extend(chunk_errors)
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
        chunk.append([fields[i] if i < len(fields) else "" for i in indices])
        numbers.append(row_number)
        if len(chunk) >= CHUNK_ROWS:
            flush()
    flush()
    return finish(frames, errors, received, header_map)
