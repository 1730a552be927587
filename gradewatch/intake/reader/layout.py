"""The layout of a file: its encoding, its delimiter and which of its columns GradeWatch reads."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

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

    Two headers that mean the same column (``StudentID,StudentID`` or ``user_id,StudentID``)
    refuse the file: using either one silently could store the wrong values.
    """
    kept: dict[int, str] = {}
    labels: dict[str, str] = {}  # canonical column -> the header label that named it
    dropped: list[str] = []
    for index, name in enumerate(header):
        label = name.strip()
        if not label:
            continue  # trailing empty columns of a spreadsheet export
        canonical = schema.canonical_column(label)
        if canonical is None:
            dropped.append(label)
        elif canonical in labels:
            raise CsvRejected(_repeated_column(canonical, labels[canonical], label))
        else:
            kept[index] = canonical
            labels[canonical] = label
    return HeaderMap(kept, dropped)

def _repeated_column(canonical: str, first: str, second: str) -> str:
    named = f'the column "{first}" twice' if first == second else (
        f'two columns for {canonical} ("{first}" and "{second}")')
    return (f"The header has {named}: GradeWatch cannot tell which one to use. Delete one of "
            "them (or rename it to something GradeWatch does not read) and upload the file again.")

@lru_cache(maxsize=8)
def id_pattern(text: str = schema.DEFAULT_USER_ID_PATTERN) -> re.Pattern[str]:
    """The compiled ``GRADEWATCH_USER_ID_PATTERN`` (a few distinct ones per process at most)."""
    return re.compile(text)


@dataclass(frozen=True)
class Layout:
    encoding: str
    delimiter: str
    header_map: HeaderMap
    width: int  # cells in the header
    # cells up to the last named column: a row with fewer is truncated (a spreadsheet's empty
    # trailing header cells are not required)
    named_width: int
    ids: re.Pattern[str]  # what a user_id must look like (GRADEWATCH_USER_ID_PATTERN)


def file_layout(raw: bytes, user_id_pattern: str = schema.DEFAULT_USER_ID_PATTERN) -> Layout:
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
    named_width = max(i for i, name in enumerate(header) if name.strip()) + 1
    return Layout(encoding, delimiter, header_map, len(header), named_width, id_pattern(user_id_pattern))

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
