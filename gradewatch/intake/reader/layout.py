"""The layout of a file: its encoding, its delimiter and which of its columns GradeWatch reads."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass

from gradewatch import schema
from gradewatch.intake.reader.decoding import SAVE_AS_CSV, CsvRejected, checked_encoding


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

@dataclass(frozen=True)
class Layout:
    encoding: str
    delimiter: str
    header_map: HeaderMap
    width: int  # cells in the header


def file_layout(raw: bytes) -> Layout:
    """Check the file and read its header, or CsvRejected."""
    encoding, _ = checked_encoding(raw)  # pandas decodes the bytes itself: no copy of the file as text
    end = raw.find(b"\n")
    first_line = (raw if end < 0 else raw[:end]).decode(encoding)
    delimiter = sniff_delimiter(first_line)
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
    return Layout(encoding, delimiter, header_map, len(header))

def sniff_delimiter(header_line: str) -> str:
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
