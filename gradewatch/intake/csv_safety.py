"""CSV output that spreadsheets cannot execute.

A cell that begins with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return, which some
spreadsheets skip before those) is read as a formula by Excel and LibreOffice. Prefixing it
with an apostrophe makes it inert text (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are inert (numbers are left as they are)."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    safe = frame.assign(**{c: frame[c].map(inert) for c in text}) if text else frame
    return safe.rename(columns=lambda c: inert(c))


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 2)
    return inert(value)


def iter_csv(header: Sequence[str], rows: Iterable[Sequence[object]], batch: int = 1000) -> Iterator[str]:
    """CSV text in chunks of ``batch`` rows, every cell made inert."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([inert(h) for h in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([_cell(v) for v in row])
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
