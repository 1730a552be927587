"""The fast path: pandas' C parser, chunk by chunk, straight from the bytes.

It must read every file exactly as the row path does (``tests/intake/test_reader_paths.py``).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from gradewatch import schema
from gradewatch.intake.reader.cells import MISSING_MARKERS, ParsedCsv, RowError, convert_columns, finish
from gradewatch.intake.reader.layout import Layout
from gradewatch.intake.reader.row_widths import has_short_rows

CHUNK_ROWS = 100_000

def parse_fast_or_text(raw: bytes, layout: Layout) -> ParsedCsv:
    """The C parser with typed numeric columns, else (a number such as 85% or 7,5) as text.

    Raises pandas' ParserError for ragged rows; the caller then reads the file row by row.
    """
    try:
        return parse_fast(raw, layout, typed=True)
    except pd.errors.EmptyDataError as exc:
        # No data rows, or a blank line right after the header, from which the C parser cannot
        # take its width: the row-by-row reader tells the two apart.
        raise pd.errors.ParserError("no width") from exc
    except pd.errors.ParserError:
        raise
    except ValueError:  # a number written as 85% or 7,5 somewhere: read as text instead
        return parse_fast(raw, layout, typed=False)

def parse_fast(raw: bytes, layout: Layout, *, typed: bool) -> ParsedCsv:
    """pandas' C parser, chunk by chunk, straight from the bytes.

    With ``typed``, numeric columns are parsed straight to float64 by the C parser (the common,
    clean export); a cell it cannot read raises ValueError and the caller parses the file again
    as text, which the lenient number rules then convert. The C parser takes its width from the
    first data row and raises ParserError when a later row is wider; the caller then falls back
    to the row-by-row reader, as it does for a file with a row shorter than the header. Dropped
    columns stay in memory for one chunk and are never converted.

    Every path follows the row-by-row reader's rules, which ``tests/test_reader_paths.py``
    checks: a row is blank (skipped, still counted in the numbering) when all of its cells,
    dropped ones included, are empty or whitespace; it overflows when a cell past the header's
    width holds something.
    """
    if has_short_rows(raw, layout):
        # The C parser would pad them with empty cells: the row-by-row reader reports them.
        raise pd.errors.ParserError("rows shorter than the header")
    encoding, delimiter, header_map, width = layout.encoding, layout.delimiter, layout.header_map, layout.width
    numeric = [i for i, c in header_map.kept.items()
               if c in schema.NUMERIC_BY_NAME or c == schema.FINAL_GRADE]
    markers = sorted({v for m in MISSING_MARKERS for v in (m, m.upper(), m.title())})
    options: dict[str, object] = (
        {"dtype": {i: ("float64" if i in numeric else str) for i in range(width)},
         "na_filter": True, "na_values": {i: markers for i in numeric}}
        if typed else {"dtype": str, "na_filter": False}
    )
    chunks = pd.read_csv(
        io.BytesIO(raw), encoding=encoding, sep=delimiter, header=None, skiprows=1,
        keep_default_na=False, skip_blank_lines=False, engine="c", chunksize=CHUNK_ROWS,
        quotechar='"', **options,
    )
    frames: list[pd.DataFrame] = []
    errors: list[RowError] = []
    notes: list[RowError] = []
    received = 0
    for chunk in chunks:
        size = len(chunk)
        # A row shorter than the first one has NaN in its missing cells, the last one included:
        # only the rows whose last cell is NaN (or empty) can have any.
        short = np.flatnonzero(pd.isna(chunk[chunk.columns[-1]].to_numpy()))
        cells = {index: _filled(chunk[index].to_numpy(), short) if index in chunk.columns
                 else np.full(size, "", dtype=object)  # rows shorter than the header
                 for index in header_map.kept}
        overflowing = np.zeros(size, dtype=bool)
        for index in (c for c in chunk.columns if c >= width):
            overflowing |= ~_blank_cells(_filled(chunk[index].to_numpy()))
        blank = _blank_rows(chunk, cells, width) & ~overflowing
        if typed and blank.any():
            _unblank_missing_markers(blank, chunk, raw, encoding, delimiter, numeric)
        received += int((~blank).sum())
        errors.extend(RowError(int(i) + 2, None, "this row has more cells than the header has columns")
                      for i in chunk.index[overflowing])
        numbers = chunk.index.to_numpy() + 2  # the header is spreadsheet row 1
        keep = ~blank & ~overflowing
        columns = list(cells.values())
        if not keep.all():
            numbers = numbers[keep]
            columns = [values[keep] for values in columns]
        if not len(numbers):
            continue
        frame, chunk_errors, chunk_notes = convert_columns(columns, numbers, header_map.columns, layout.ids)
        frames.append(frame)
        errors.extend(chunk_errors)
        notes.extend(chunk_notes)
    return finish(frames, errors, received, header_map, notes)

def _filled(values: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """A text column with its missing cells (rows shorter than the others) as empty strings.

    ``rows``, when given, are the only rows that can have a missing cell.
    """
    if values.dtype != object:
        return values
    missing = np.flatnonzero(pd.isna(values)) if rows is None else rows[pd.isna(values[rows])]
    if missing.size:
        values = values.copy()
        values[missing] = ""
    return values

def _blank_cells(values: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Which cells are empty or only whitespace (the row-by-row reader's rule).

    A number column parsed by the C parser has NaN for an empty cell (and for a missing marker,
    which :func:`_unblank_missing_markers` tells apart). ``rows`` limits the test to those rows.
    """
    if rows is not None:
        values = values[rows]
    if values.dtype != object:
        return pd.isna(values)
    blank = values == ""
    rest = np.flatnonzero(~blank)
    if rest.size:
        blank[rest] = np.fromiter(map(str.isspace, values[rest]), dtype=bool, count=rest.size)
    return blank

def _blank_rows(chunk: pd.DataFrame, cells: dict[int, np.ndarray], width: int) -> np.ndarray:
    """Rows whose every cell, kept or dropped, is empty or whitespace (overflow cells aside).

    Numbers first, then text, each column testing only the rows still blank so far: a real row
    stops being a candidate at its first filled cell, so the text columns are rarely scanned.
    """
    blank = np.ones(len(chunk), dtype=bool)
    kept = sorted(cells, key=lambda i: cells[i].dtype == object)
    dropped = [i for i in chunk.columns if i < width and i not in cells]
    for index in kept + dropped:
        rows = np.flatnonzero(blank)
        if not rows.size:
            break
        values = cells[index] if index in cells else _filled(chunk[index].to_numpy())
        blank[rows] = _blank_cells(values, rows)
    return blank

def _unblank_missing_markers(blank: np.ndarray, chunk: pd.DataFrame, raw: bytes, encoding: str,
                             delimiter: str, numeric: list[int]) -> None:
    """Un-mark the 'blank' rows whose number cells held a missing marker such as N/A.

    The typed C parser reads an empty number cell and a marker alike as NaN, but a row with a
    marker is not blank for the row-by-row reader (it is received, and then fails on its empty
    user_id). Such rows are rare (trailing empty lines are the usual blank rows), so the span
    of rows in question is read again as text, only for the number columns.
    """
    rows = np.flatnonzero(blank)
    present = [i for i in numeric if i in chunk.columns]
    if not rows.size or not present:
        return
    first, last = int(chunk.index[rows[0]]), int(chunk.index[rows[-1]])
    text = pd.read_csv(
        io.BytesIO(raw), encoding=encoding, sep=delimiter, header=None, skiprows=1 + first,
        nrows=last - first + 1, names=list(chunk.columns), usecols=present, dtype=str,
        na_filter=False, keep_default_na=False, skip_blank_lines=False, engine="c", quotechar='"',
    )
    positions = chunk.index.to_numpy()[rows] - first
    still_blank = np.ones(rows.size, dtype=bool)
    for index in present:
        still_blank &= _blank_cells(_filled(text[index].to_numpy()), positions)
    blank[rows[~still_blank]] = False
