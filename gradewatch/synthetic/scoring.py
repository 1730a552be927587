"""Score a cleaning against the ground truth of a synthetic semester.

For every injected error, *handled* means the outcome documented in
:mod:`gradewatch.synthetic.errors` happened (fixed, imputed and flagged, excluded, dropped,
flagged as an outlier, converted, reported). *Altered* counts the clean cells (cells no error
touched, in rows that should be kept) whose cleaned value differs from the truth; a kept row
that was lost or wrongly excluded counts all its cells as altered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gradewatch import schema
from gradewatch.quality.cleaning import EXCLUDED, FLAGS
from gradewatch.quality.report import QualityReport
from gradewatch.synthetic.errors import BAD_CELL_KINDS, CATEGORICAL, VALUE_COLUMNS
from gradewatch.synthetic.generator import SyntheticSemester

_FORMAT_KINDS = ("bom", "semicolon", "decimal_comma")


@dataclass
class CleaningScore:
    injected: dict[str, int] = field(default_factory=dict)
    handled: dict[str, int] = field(default_factory=dict)
    misses: dict[str, list[Any]] = field(default_factory=dict)
    clean_cells: int = 0
    altered_cells: int = 0

    def add(self, kind: str, ok: bool, detail: Any = None) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        self.handled[kind] = self.handled.get(kind, 0) + int(bool(ok))
        if not ok:
            self.misses.setdefault(kind, []).append(detail)

    def recall(self, kind: str) -> float:
        return self.handled.get(kind, 0) / self.injected[kind] if self.injected.get(kind) else 1.0

    @property
    def altered_share(self) -> float:
        return self.altered_cells / self.clean_cells if self.clean_cells else 0.0

    def summary(self) -> dict[str, Any]:
        return {"recall": {k: round(self.recall(k), 4) for k in sorted(self.injected)},
                "injected": dict(sorted(self.injected.items())),
                "clean_cells": self.clean_cells, "altered_share": round(self.altered_share, 5)}


def _same(a: Any, b: Any) -> bool:
    a_missing = a is None or (isinstance(a, float) and np.isnan(a)) or a is pd.NA
    b_missing = b is None or (isinstance(b, float) and np.isnan(b)) or b is pd.NA
    if a_missing or b_missing:
        return a_missing and b_missing
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return abs(float(a) - float(b)) <= 1e-6


def score_cleaning(semester: SyntheticSemester, cleaned: pd.DataFrame,
                   report: QualityReport) -> CleaningScore:
    sheet, score = semester.sheet, CleaningScore()
    rows = cleaned.set_index(schema.USER_ID)
    flags = rows[FLAGS].to_dict()
    excluded = rows[EXCLUDED].to_dict()

    def value(user_id: str, column: str) -> Any:
        return rows.at[user_id, column] if user_id in rows.index else None

    def flagged(user_id: str, token: str) -> bool:
        return token in flags.get(user_id, "").split(";")

    for error in sheet.errors:
        kind, uid, column = error["kind"], error["user_id"], error["column"]
        present = uid in rows.index
        if kind in BAD_CELL_KINDS:
            ok = present and (excluded[uid] or flagged(uid, f"imputed:{column}"))
        elif kind == "multi_bad_row":
            ok = present and excluded[uid]
        elif kind == "missing_user_id":
            ok = not present
        elif kind == "final_grade_out_of_range":
            ok = present and _same(value(uid, column), None) and flagged(uid, f"{kind}:{column}")
        elif kind == "outlier":
            ok = present and flagged(uid, f"outlier:{column}")
        else:  # fixed or parsed: misspelled_category, duplicate_row, percent_string, whitespace
            ok = present and _same(value(uid, column), error["truth"])
        score.add(kind, ok, uid)
    _score_file_kinds(semester, rows, report, score)
    _score_clean_cells(semester, rows, score)
    for kind in (k["kind"] for k in sheet.file_errors if k["kind"] in _FORMAT_KINDS):
        expected_rows = sheet.expected()["rows_out"]
        score.add(kind, len(rows) == expected_rows and score.altered_share <= 0.005)
    return score


def _score_file_kinds(semester: SyntheticSemester, rows: pd.DataFrame, report: QualityReport,
                      score: CleaningScore) -> None:
    sheet, truth = semester.sheet, semester.truth
    touched = sheet.cells_with_errors()
    for error in sheet.file_errors:
        kind = error["kind"]
        if kind in ("attendance_fraction", "grade_scale_20", "grade_scale_10"):
            for column in error.get("columns", [error.get("column")]):
                for i, uid in enumerate(truth[schema.USER_ID]):
                    if (i, column) in touched or (i, schema.USER_ID) in touched or \
                            _same(truth.at[i, column], None):
                        continue
                    present = uid in rows.index
                    score.add(kind, present and _same(rows.at[uid, column], truth.at[i, column]), uid)
        elif kind == "empty_feature":
            score.add(kind, report.rules_by_column.get("all_missing_feature", {}).get(error["column"]) == 1)
        elif kind == "constant_feature":
            score.add(kind, bool(report.features.get(error["column"], {}).get("constant")))
        elif kind == "bulk_zero_grades":
            score.add(kind, bool(report.zero_grades.get(error["column"], {}).get("bulk")))


def _score_clean_cells(semester: SyntheticSemester, rows: pd.DataFrame, score: CleaningScore) -> None:
    sheet, truth = semester.sheet, semester.truth
    touched = sheet.cells_with_errors()
    skip_columns = {e["column"] for e in sheet.file_errors
                    if e["kind"] in ("empty_feature", "constant_feature")}
    for e in sheet.file_errors:
        if e["kind"] in ("attendance_fraction", "grade_scale_20", "grade_scale_10"):
            skip_columns.update(e.get("columns", [e.get("column")]))
    bad = sheet.bad_cells if sheet.bad_cells is not None else np.zeros(len(truth), int)
    dropped = {e["student"] for e in sheet.errors if e["kind"] == "missing_user_id"}
    columns = [c for c in VALUE_COLUMNS if c not in skip_columns]
    for i, uid in enumerate(truth[schema.USER_ID]):
        if i in dropped or bad[i] >= 2:
            continue
        cells = [c for c in columns if (i, c) not in touched]
        score.clean_cells += len(cells)
        if uid not in rows.index or bool(rows.at[uid, EXCLUDED]):
            score.altered_cells += len(cells)
            continue
        for column in cells:
            got = rows.at[uid, column]
            if column in CATEGORICAL:
                got = None if got is None or got is pd.NA else str(got)
            elif got is pd.NA:
                got = None
            score.altered_cells += int(not _same(got, truth.at[i, column]))
