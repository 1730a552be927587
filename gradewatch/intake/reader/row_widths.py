"""Which files may hold a truncated row, found on the bytes without parsing them.

pandas' C parser pads a row shorter than the others with empty cells, so a truncated line
(``S9`` under a 7-column header) would read as a student whose values were all erased. The
fast path therefore first counts each row's delimiters, vectorised over the raw bytes, and
leaves any file with a row shorter than the header to the row-by-row reader, which reports
each such row. Delimiters and line breaks inside quotes do not count: a character is quoted
when an odd number of quote characters precede it (an escaped ``""`` adds two).

The count may see a short row that is not one (a row of empty cells, a stray quote in a cell);
that only costs the slower path, which then decides exactly.
"""

from __future__ import annotations

import numpy as np

from gradewatch.intake.reader.layout import Layout

_WINDOW = 8 * 1024 * 1024  # bytes compared at a time, so a 100 MB upload needs no 100 MB mask


def has_short_rows(raw: bytes, layout: Layout) -> bool:
    """True when some data row (blank lines aside) may have fewer cells than the named header."""
    if layout.named_width <= 1:
        return False
    data = np.frombuffer(raw, dtype=np.uint8)
    if b'"' not in raw and raw.count(b"\r") == raw.count(b"\r\n"):
        return _has_short_unquoted_rows(raw, data, layout)
    return _has_short_rows_any_quoting(raw, data, layout)


def _has_short_rows_any_quoting(raw: bytes, data: np.ndarray, layout: Layout) -> bool:
    quotes, delimiters, newlines, returns = (
        _positions(data, ord(char)) for char in ('"', layout.delimiter, "\n", "\r"))
    # A lone CR ends a row too (old Mac exports); the CR of a CRLF does not.
    after = returns + 1
    lone = returns[(after >= data.size) | (data[np.minimum(after, data.size - 1)] != ord("\n"))]
    # Both are sorted already; union1d would sort a million line ends again (a second at 1M rows).
    ends = np.union1d(newlines, lone) if lone.size else newlines
    if quotes.size:  # most exports quote nothing
        ends = ends[_outside_quotes(ends, quotes)]
        delimiters = delimiters[_outside_quotes(delimiters, quotes)]
    rows = ends.size + 1  # the text after the last line break is a row too (maybe empty)
    cells = np.bincount(np.searchsorted(ends, delimiters), minlength=rows) + 1
    return _any_filled(raw, ends, np.flatnonzero(cells < layout.named_width))


def _has_short_unquoted_rows(raw: bytes, data: np.ndarray, layout: Layout) -> bool:
    """:func:`has_short_rows` for the usual export: no quote character, every line ending in LF
    or CRLF. Then every delimiter and every LF counts, and a row's cells are the delimiters
    between two consecutive LFs, plus one: one pass keeps just those bytes, in order, and
    the gaps between the LFs among them count the delimiters (no search per delimiter).
    """
    delimiter, newline = ord(layout.delimiter), ord("\n")
    events = np.concatenate([window[(window == delimiter) | (window == newline)]
                             for window in _windows(data)] or [np.empty(0, dtype=np.uint8)])
    line_ends = np.flatnonzero(events == newline)
    cells = np.diff(np.concatenate(([-1], line_ends, [events.size]))) if events.size else np.ones(1, np.int64)
    short = np.flatnonzero(cells < layout.named_width)
    if not short[short > 0].size:
        return False
    return _any_filled(raw, _positions(data, newline), short)


def _any_filled(raw: bytes, ends: np.ndarray, rows: np.ndarray) -> bool:
    """Whether any of ``rows`` (row numbers, given the rows' ``ends``) holds something.

    Row 0 is the header. A line of only whitespace is blank, not short (and rare: the loop
    stops at the first real short row).
    """
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(raw)]))
    return any(raw[starts[row]:stops[row]].strip() for row in rows.tolist() if row)


def _windows(data: np.ndarray) -> list[np.ndarray]:
    return [data[start:start + _WINDOW] for start in range(0, data.size, _WINDOW)]


def _positions(data: np.ndarray, byte: int) -> np.ndarray:
    parts = [np.flatnonzero(data[start:start + _WINDOW] == byte) + start
             for start in range(0, data.size, _WINDOW)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _outside_quotes(positions: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    return np.searchsorted(quotes, positions) % 2 == 0
