"""Read real CSV exports into the canonical schema.

Handles what spreadsheets and student information systems actually produce: comma, semicolon
or tab delimiters; UTF-8 with or without BOM and Latin-1 / Windows-1252; CRLF; quoted fields;
trailing empty lines and columns; float-formatted integers (``3.0``), percent strings (``85%``),
decimal commas (``7,5``); category spellings such as ``F``, `` Male `` or ``HIGH``.

The PII rule is applied at the header: only canonical columns (or their aliases) are ever
parsed; every other column is reported by name in ``dropped_columns`` and its cells are never
turned into values. Row errors carry the row number a registrar sees in a spreadsheet (the
header is row 1) and never the cell's content, so they can be logged and written to receipts.

What parses but is implausible (out-of-range numbers, sentinels, misspelled categories) is kept
as it is: the cleaning rules decide about it, so a student never loses a prediction to one typo.
A category cell that is neither an allowed category nor a misspelling of one is read as missing
with a note on its row: categories are a closed set, so free text never gets stored.

The package: ``decoding`` (which bytes are CSV text), ``layout`` (delimiter and header),
``fast_path`` (pandas' C parser) and ``row_path`` (the csv module) read a file, and ``cells``
turns its cells into typed canonical values with the same rules on both paths.
"""

from __future__ import annotations

import pandas as pd

from gradewatch import schema
from gradewatch.intake.reader.cells import ROW, ParsedCsv, RowError, parse_iso_date
from gradewatch.intake.reader.decoding import SAVE_AS_CSV, CsvRejected, decode_text
from gradewatch.intake.reader.fast_path import parse_fast_or_text
from gradewatch.intake.reader.layout import HeaderMap, Layout, file_layout, map_header
from gradewatch.intake.reader.row_path import parse_text_rows, read_records

__all__ = [
    "ROW", "SAVE_AS_CSV", "CsvRejected", "HeaderMap", "Layout", "ParsedCsv", "RowError", "decode_text",
    "file_layout", "map_header", "parse_iso_date", "read_csv_bytes", "read_records",
]


def read_csv_bytes(raw: bytes, user_id_pattern: str = schema.DEFAULT_USER_ID_PATTERN) -> ParsedCsv:
    """Parse an uploaded CSV file. Raises :class:`CsvRejected` for a file that cannot be used.

    ``user_id_pattern`` is ``GRADEWATCH_USER_ID_PATTERN``: a row whose id does not match it is
    a row error, and a file where most ids do not is refused.
    """
    layout = file_layout(raw, user_id_pattern)
    try:
        return parse_fast_or_text(raw, layout)
    except pd.errors.ParserError:
        # Ragged rows (more cells than the header): the row-by-row reader reports each one.
        return parse_text_rows(raw, layout)
