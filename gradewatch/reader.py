"""Read real CSV exports into the canonical schema.

Handles what spreadsheets and student information systems actually produce: comma, semicolon
or tab delimiters; UTF-8 with or without BOM and Latin-1 / Windows-1252; CRLF; quoted fields;
trailing empty lines and columns; float-formatted integers (``3.0``), percent strings (``85%``),
decimal commas (``7,5``); category spellings such as ``F``, `` Male `` or ``HIGH``.

The PII rule is applied at the header: only canonical columns (or their aliases) are ever
parsed; every other column is reported by name in ``dropped_columns`` and its cells are never
turned into values. Row errors carry the row number a registrar sees in a spreadsheet (the
header is row 1) and never the cell's content, so they can be logged and written to receipts.

What parses but is implausible (out-of-range numbers, sentinels, unknown categories) is kept as
it is: the cleaning rules decide about it, so a student never loses a prediction to one typo.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import repeat

import numpy as np
import pandas as pd
from charset_normalizer import from_bytes

from gradewatch import schema

ROW = "row"  # the spreadsheet row number column of a parsed frame
CHUNK_ROWS = 100_000
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "?"})
MAX_CATEGORY_LENGTH = 40
MAX_COUNT = 1_000_000  # counts are stored as INTEGER; a larger one can only be a typo
_LONGEST_MARKER = max(len(m) for m in MISSING_MARKERS)

# Single-byte Western encodings a detector may name for a Latin-1 / Windows-1252 file.
_LATIN_GUESSES = frozenset({
    "cp1252", "latin_1", "iso8859_15", "iso8859_1", "cp1250", "iso8859_2", "mac_roman",
    "cp850", "cp437", "iso8859_9", "cp1254", "iso8859_3", "iso8859_4", "cp1257", "ascii",
})
_FILE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Word file (.xls/.doc)"),
)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Every byte but the ASCII ones _CONTROL_CHARS matches: deleting these from an ASCII file leaves
# its control characters (bytes.translate is several times faster than a regex search).
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if not _CONTROL_CHARS.match(chr(b)) or b > 0x7f)
_FLOAT_INTEGER = re.compile(r"^(\d+)\.0+$")
SAVE_AS_CSV = "Open it in your spreadsheet and use 'Save as' → 'CSV UTF-8', then upload that file."


class CsvRejected(ValueError):
    """The file as a whole cannot be used. The message says why and what to do."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ParsedCsv:
    """Canonical, typed rows of a file (one per valid data row) plus what was left out."""

    frame: pd.DataFrame
    columns: tuple[str, ...]
    dropped_columns: list[str]
    errors: list[RowError] = field(default_factory=list)
    rows_received: int = 0

    @property
    def rejected_rows(self) -> int:
        return len({e.row for e in self.errors})


def decode_text(raw: bytes) -> str:
    """Decode an upload, or refuse it with a message that names the problem."""
    encoding, text = _checked_encoding(raw)
    return text if text is not None else raw.decode(encoding)


def _checked_encoding(raw: bytes) -> tuple[str, str | None]:
    """The codec of an upload (``utf-8-sig``, ``cp1252`` or ``latin-1``), or CsvRejected.

    A file that is ASCII (after an optional UTF-8 BOM), as most exports are, is checked on its
    bytes without being decoded, and the text comes back as None; otherwise the text that had to
    be decoded to check it comes back too.
    """
    if not raw or raw.isspace():  # the same test as ``not raw.strip()``, without a copy
        raise CsvRejected("The file is empty. " + SAVE_AS_CSV)
    for signature, kind in _FILE_SIGNATURES:
        if raw.startswith(signature):
            raise CsvRejected(f"This file is {kind}, not a CSV text file. " + SAVE_AS_CSV)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise CsvRejected(
            "This file is UTF-16 text or binary data, not UTF-8 or Latin-1 text. " + SAVE_AS_CSV
        )
    body = raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw
    if body.isascii():
        if body.translate(None, _NOT_CONTROL_BYTES):
            raise CsvRejected(_CONTROL_MESSAGE)
        return "utf-8-sig", None
    try:
        encoding, text = "utf-8-sig", raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding, text = _decode_latin(raw)
    if _CONTROL_CHARS.search(text):
        raise CsvRejected(_CONTROL_MESSAGE)
    return encoding, text


_CONTROL_MESSAGE = (
    "This file contains control characters that do not occur in CSV text: it is not "
    "UTF-8 or Latin-1 text. " + SAVE_AS_CSV
)


def _decode_latin(raw: bytes) -> tuple[str, str]:
    guess = from_bytes(raw[:262_144]).best()
    encoding = guess.encoding if guess is not None else None
    if encoding is not None and encoding not in _LATIN_GUESSES:
        raise CsvRejected(
            f"This file is encoded as {encoding}, which GradeWatch does not read; it accepts "
            "UTF-8 and Latin-1 / Windows-1252. " + SAVE_AS_CSV
        )
    try:
        return "cp1252", raw.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1", raw.decode("latin-1")


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: _count_outside_quotes(header_line, d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


@dataclass(frozen=True)
class HeaderMap:
    kept: dict[int, str]  # field index -> canonical column
    dropped: list[str]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.kept.values())


def map_header(header: Sequence[str]) -> HeaderMap:
    """Match headers to canonical columns; every other non-empty header is dropped (PII rule).

    When two headers mean the same column, the first one wins and the second is dropped.
    """
    kept: dict[int, str] = {}
    dropped: list[str] = []
    for index, name in enumerate(header):
        label = name.strip()
        if not label:
            continue  # trailing empty columns of a spreadsheet export
        canonical = schema.canonical_column(label)
        if canonical is None or canonical in kept.values():
            dropped.append(label)
        else:
            kept[index] = canonical
    return HeaderMap(kept, dropped)


def read_csv_bytes(raw: bytes) -> ParsedCsv:
    """Parse an uploaded CSV file. Raises :class:`CsvRejected` for a file that cannot be used."""
    layout = _layout(raw)
    try:
        return _parse_fast_or_text(raw, layout)
    except pd.errors.ParserError:
        # Ragged rows (more cells than the header): the row-by-row reader reports each one.
        return _parse_text_rows(raw, layout)


@dataclass(frozen=True)
class _Layout:
    encoding: str
    delimiter: str
    header_map: HeaderMap
    width: int  # cells in the header


def _layout(raw: bytes) -> _Layout:
    """Check the file and read its header, or CsvRejected."""
    encoding, _ = _checked_encoding(raw)  # pandas decodes the bytes itself: no copy of the file as text
    end = raw.find(b"\n")
    first_line = (raw if end < 0 else raw[:end]).decode(encoding)
    delimiter = _sniff_delimiter(first_line)
    try:
        header = next(csv.reader([first_line.rstrip("\r")], delimiter=delimiter))
    except (StopIteration, csv.Error) as exc:
        raise CsvRejected("The first line of the file is not a readable CSV header. " + SAVE_AS_CSV) from exc
    header_map = map_header(header)
    if not header_map.kept:
        raise CsvRejected(
            "None of the columns is one GradeWatch knows (such as user_id, attendance_rate or "
            "final_grade). Check that the first line of the file holds the column names."
        )
    return _Layout(encoding, delimiter, header_map, len(header))


def _parse_fast_or_text(raw: bytes, layout: _Layout) -> ParsedCsv:
    """The C parser with typed numeric columns, else (a number such as 85% or 7,5) as text.

    Raises pandas' ParserError for ragged rows; the caller then reads the file row by row.
    """
    try:
        return _parse_fast(raw, layout, typed=True)
    except pd.errors.EmptyDataError as exc:
        # No data rows, or a blank line right after the header, from which the C parser cannot
        # take its width: the row-by-row reader tells the two apart.
        raise pd.errors.ParserError("no width") from exc
    except pd.errors.ParserError:
        raise
    except ValueError:  # a number written as 85% or 7,5 somewhere: read as text instead
        return _parse_fast(raw, layout, typed=False)


def _parse_text_rows(raw: bytes, layout: _Layout) -> ParsedCsv:
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


def _parse_fast(raw: bytes, layout: _Layout, *, typed: bool) -> ParsedCsv:
    """pandas' C parser, chunk by chunk, straight from the bytes.

    With ``typed``, numeric columns are parsed straight to float64 by the C parser (the common,
    clean export); a cell it cannot read raises ValueError and the caller parses the file again
    as text, which the lenient number rules then convert. The C parser takes its width from the
    first data row and raises ParserError when a later row is wider; the caller then falls back
    to the row-by-row reader. Dropped columns stay in memory for one chunk and are never converted.

    Every path follows the row-by-row reader's rules, which ``tests/test_reader_paths.py``
    checks: a row is blank (skipped, still counted in the numbering) when all of its cells,
    dropped ones included, are empty or whitespace; it overflows when a cell past the header's
    width holds something.
    """
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
        frame, chunk_errors = _convert_columns(columns, numbers, header_map.columns)
        frames.append(frame)
        errors.extend(chunk_errors)
    return _finish(frames, errors, received, header_map)


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
            frame, chunk_errors = _convert_columns(list(zip(*chunk, strict=True)), numbers,
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
    return _finish(frames, errors, received, header_map)


def _finish(frames: list[pd.DataFrame], errors: list[RowError], received: int,
            header_map: HeaderMap) -> ParsedCsv:
    if received == 0:
        raise CsvRejected("The file has a header but no data rows.")
    columns = (ROW, *header_map.columns)
    frame = pd.concat(frames, ignore_index=True) if frames else _empty_frame(columns)
    errors.sort(key=lambda e: e.row)
    return ParsedCsv(frame, header_map.columns, header_map.dropped, errors, received)


def _empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _convert_columns(
    raw_columns: Sequence[Sequence[str] | np.ndarray], numbers: Sequence[int] | np.ndarray,
    columns: tuple[str, ...],
) -> tuple[pd.DataFrame, list[RowError]]:
    """Vectorised conversion of one chunk of raw cells to typed canonical columns.

    A cell is a str, or a float64 when the C parser already read a number column.
    """
    row_numbers = np.asarray(numbers, dtype=np.int64)
    converted: dict[str, pd.Series] = {ROW: pd.Series(row_numbers)}
    bad = np.zeros(len(row_numbers), dtype=bool)
    errors: list[RowError] = []
    for name, cells in zip(columns, raw_columns, strict=True):
        values = pd.Series(cells) if isinstance(cells, np.ndarray) else pd.Series(cells, dtype=object)
        series, invalid, message = _convert_column(name, values)
        converted[name] = series
        for position in np.flatnonzero(invalid):
            errors.append(RowError(int(row_numbers[position]), name, message))
        bad |= invalid
    frame = pd.DataFrame(converted)
    if bad.any():
        frame = frame.loc[~bad].reset_index(drop=True)
    return frame, errors


def _by_unique(values: pd.Series, function: Callable[[str], object]) -> pd.Series:
    """Apply ``function`` once per distinct cell: exports repeat the same few spellings."""
    codes, uniques = pd.factorize(values, sort=False)
    mapped = np.array([function(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_MARKERS


def _convert_column(name: str, values: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    if name == schema.USER_ID:
        return _convert_user_id(values)
    if name in (schema.START, schema.END):
        return _convert_date(values)
    if name in schema.CATEGORICAL_BY_NAME:
        return _convert_category(name, values)
    integer = name in schema.NUMERIC_BY_NAME and schema.NUMERIC_BY_NAME[name].integer
    return _convert_number(values, integer=integer)


def _clean_id(cell: str) -> str | None:
    cell = cell.strip()
    if len(cell) <= _LONGEST_MARKER and cell.lower() in MISSING_MARKERS:
        return None
    if cell.endswith("0") and "." in cell:
        # Exports that went through a spreadsheet turn 1234 into "1234.0".
        match = _FLOAT_INTEGER.match(cell)
        return match.group(1) if match else cell
    return cell


def _convert_user_id(values: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    """:func:`_clean_id` on every cell, vectorised: only the cells it could change go through it.

    Those are the short ones (a missing marker) and the ones with a dot that end in 0 (1234.0);
    the others only lose their surrounding whitespace.
    """
    cells = values.tolist()
    stripped = list(map(str.strip, cells))
    size = len(stripped)
    lengths = np.fromiter(map(len, stripped), dtype=np.int64, count=size)
    special = lengths <= _LONGEST_MARKER
    ends_in_zero = np.flatnonzero(np.fromiter(map(str.endswith, stripped, repeat("0")), dtype=bool, count=size))
    special[[i for i in ends_in_zero.tolist() if "." in stripped[i]]] = True
    ids = np.array(stripped, dtype=object) if size else np.empty(0, dtype=object)
    missing = np.zeros(size, dtype=bool)
    for i in np.flatnonzero(special).tolist():
        cleaned = _clean_id(cells[i])
        ids[i] = cleaned
        missing[i] = cleaned is None
        lengths[i] = 0 if cleaned is None else len(cleaned)
    too_long = lengths > schema.MAX_USER_ID_LENGTH
    invalid = missing | too_long
    ids[invalid] = None
    ids = pd.Series(ids, index=values.index, dtype=object)
    message = (
        "user_id is missing" if not too_long.any()
        else f"user_id is missing or longer than {schema.MAX_USER_ID_LENGTH} characters"
    )
    return ids, invalid, message


def _parse_date(cell: str) -> date | None:
    try:
        return date.fromisoformat(cell.strip())
    except ValueError:
        return None


def _convert_date(values: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    dates = _by_unique(values, _parse_date)
    return dates, dates.isna().to_numpy(), "not a date in the form YYYY-MM-DD"


_TOO_LONG = object()


def _convert_category(name: str, values: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    def normalise(cell: str) -> object:
        if _is_missing(cell):
            return None
        value = schema.normalise_category(name, cell)
        return _TOO_LONG if len(value) > MAX_CATEGORY_LENGTH else value

    codes, uniques = pd.factorize(values, sort=False)
    mapped = np.array([normalise(u) for u in uniques] + [None], dtype=object)
    too_long_unique = np.array([m is _TOO_LONG for m in mapped], dtype=bool)
    too_long = too_long_unique[codes]
    if too_long_unique.any():
        mapped[too_long_unique] = None
    result = pd.Series(mapped[codes], index=values.index, dtype=object)
    return result, too_long, f"longer than {MAX_CATEGORY_LENGTH} characters: not a {name} value"


def _convert_number(values: pd.Series, *, integer: bool) -> tuple[pd.Series, np.ndarray, str]:
    # The fast C parser first; the lenient one only for the cells it refused.
    if values.dtype == np.float64:  # already parsed by the CSV reader; NaN means missing there
        numbers = values.to_numpy(copy=True)
        missing = np.isnan(numbers)
        retry = np.empty(0, dtype=np.int64)
    else:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy(copy=True)
        missing = np.zeros(len(numbers), dtype=bool)
        retry = np.flatnonzero(np.isnan(numbers))
    if retry.size:
        cells = values.iloc[retry]
        retry_missing = _by_unique(cells, _is_missing).to_numpy(dtype=bool)
        missing[retry[retry_missing]] = True
        fixed = _by_unique(cells, _lenient_number).to_numpy(dtype="float64")
        numbers[retry] = np.where(retry_missing, np.nan, fixed)
    unparsed = np.isnan(numbers) & ~missing
    invalid = unparsed | np.isinf(numbers)
    message = "not a number (write it like 85, 85.5, 85% or 85,5)"
    if integer:
        with np.errstate(invalid="ignore"):
            fractional = ~np.isnan(numbers) & (np.mod(numbers, 1) != 0)
            # A count must fit the database's INTEGER column; anything near that is a typo anyway.
            huge = ~np.isnan(numbers) & (np.abs(numbers) > MAX_COUNT)
        if fractional.any() or huge.any():
            message = "not a whole number" if not unparsed.any() else "not a whole number or not a number"
            if huge.any():
                message = f"not a plausible count (a whole number below {MAX_COUNT:,})"
        invalid |= fractional | huge
        numbers[invalid] = np.nan
        return pd.Series(numbers).round().astype("Int64"), invalid, message
    numbers[invalid] = np.nan
    return pd.Series(numbers), invalid, message


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def _lenient_number(cell: str) -> float:
    """Percent strings, decimal commas and thousands spaces: '85%', '7,5', '1 234,5'."""
    text = _SPACES.sub("", cell).rstrip("%")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return np.nan


def parse_iso_date(text: str | None, field_name: str) -> date:
    """A form field in ISO form; raises CsvRejected with a message naming the field."""
    if text is None or not text.strip():
        raise CsvRejected(f"{field_name} is missing: give it as YYYY-MM-DD, e.g. 2026-01-12.")
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise CsvRejected(
            f"{field_name} must be a date written as YYYY-MM-DD (e.g. 2026-01-12)."
        ) from exc
