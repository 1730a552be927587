"""The rejected rows of an upload, re-read from the upload's own bytes so they can be fixed.

Rejected rows are identifying data, so they are never stored: the upload page derives them
from the raw bytes that are still in memory, right after :func:`gradewatch.intake.ingest.ingest_csv`
returned, and hands them to the browser with the page. Only the columns GradeWatch reads are
kept, under the file's own header names (so the fixed file maps the same way on re-upload);
the columns the upload dropped for privacy (names, e-mails...) stay dropped. Two columns are
added at the end: the row's number in the original file and what was wrong with it. On
re-upload both are unknown columns and are dropped like any other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from gradewatch import schema
from gradewatch.intake.reader import RowError, file_layout

SOURCE_ROW = "source_row"
PROBLEMS = "problems"


@dataclass(frozen=True)
class RejectedRows:
    header: list[str]
    rows: list[list[str]]
    complete: bool = True  # False when the file could not be re-read to its end


def error_messages(errors: Sequence[RowError]) -> dict[int, str]:
    """Every row's problems in one readable cell, keyed by the row number."""
    by_row: dict[int, list[str]] = {}
    for error in errors:
        text = f"{error.column}: {error.message}" if error.column else error.message
        by_row.setdefault(error.row, []).append(text)
    return {row: "; ".join(texts) for row, texts in by_row.items()}


def rejected_rows(raw: bytes, errors: Sequence[RowError],
                  user_id_pattern: str = schema.DEFAULT_USER_ID_PATTERN) -> RejectedRows:
    """The rows of ``raw`` named by ``errors`` (spreadsheet numbering: the header is row 1).

    ``raw`` must be a file that :func:`gradewatch.intake.reader.read_csv_bytes` accepted with
    ``user_id_pattern``.
    """
    problems = error_messages(errors)
    # The reader's own layout, so the rows are split exactly as the upload was.
    layout = file_layout(raw, user_id_pattern)
    text = raw.decode(layout.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    header = next(reader)
    indices = list(layout.header_map.kept)
    out_header = [*(header[i].strip() for i in indices), SOURCE_ROW, PROBLEMS]
    rows: list[list[str]] = []
    if not problems:
        return RejectedRows(out_header, rows)
    last = max(problems)
    try:
        for number, fields in enumerate(reader, start=2):
            if number in problems:
                cells = [fields[i] if i < len(fields) else "" for i in indices]
                rows.append([*cells, str(number), problems[number]])
            if number >= last:
                break
    except csv.Error:  # e.g. a cell beyond the csv module's size limit: keep what was read
        return RejectedRows(out_header, rows, complete=False)
    return RejectedRows(out_header, rows, complete=len(rows) == len(problems))
