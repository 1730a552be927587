"""Human errors for synthetic semesters: what is injected, where, and how the file is written.

Row kinds (``error_rate`` is the share of students whose row gets exactly one of them):

| kind | what a person did | expected outcome of reading + cleaning |
| --- | --- | --- |
| out_of_range | typed an impossible number (attendance 135, 75 activities) | imputed |
| sentinel | typed a placeholder (-1, -5, 99, 999, 200) | imputed |
| missing_value | left a feature cell empty | imputed |
| misspelled_category | typed "Femal", "Hgih", "Meduim" | fixed |
| invalid_category | typed "Unknown", "Yes" in a category | imputed |
| final_grade_out_of_range | typed a final grade of 135 or -1 | final grade made unknown |
| outlier | a real but extreme value (150 study hours) | flagged, kept |
| multi_bad_row | two or three bad features in one row | excluded |
| duplicate_row | an older copy of the row above the current one | older copy dropped |
| missing_user_id | left the id empty | row dropped (the reader rejects it) |
| percent_string | wrote attendance as "85.5%" | parsed by the reader |
| stray_whitespace | "  Female " or " 85.5" | parsed by the reader |

File kinds (each hits a semester with probability ``file_error_rate``):
attendance_fraction (0-1), grade_scale_20 / grade_scale_10 (grades divided by 5 / 10),
empty_feature (a column left empty), constant_feature (a column filled with one value),
bulk_zero_grades (6% of previous grades are real zeros: drop-outs who came back),
bom, semicolon (``;`` delimiter), decimal_comma (``;`` delimiter and ``85,5``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gradewatch import schema
from gradewatch.plain import plain
from gradewatch.synthetic.config import FILE_KINDS, ROW_KINDS, GeneratorConfig

# Kinds that leave one bad feature cell, which cleaning imputes.
BAD_CELL_KINDS = ("out_of_range", "sentinel", "missing_value", "invalid_category")
NUMERIC = tuple(f.name for f in schema.NUMERIC_FEATURES)
CATEGORICAL = tuple(f.name for f in schema.CATEGORICAL_FEATURES)
VALUE_COLUMNS = (*schema.FEATURES, schema.FINAL_GRADE)

# Misspellings a person makes, each one edit from exactly one category (see categories.py).
TYPOS = {
    "female": ("femal", "femlae", "feamle", "femail", "femle", "femalle"),
    "male": ("mael", "mle", "maale", "mal", "malee"),
    "other": ("othr", "ohter", "otehr", "otther"),
    "low": ("lwo", "loww", "olw"),
    "medium": ("meduim", "medum", "mediun", "meidum", "mediumm", "medim"),
    "high": ("hgih", "hihg", "hig", "hight", "hgh"),
}
INVALID = {"gender": ("unknown", "prefer not to say", "yes", "3", "student"),
           "parental_support": ("unknown", "yes", "5", "very", "n.d.")}
SENTINEL_CHOICES = {"attendance_rate": (-1, -99, 200, 999), "study_hours_per_week": (-1, -5, 99, 999),
                    "previous_grade": (-1, 200, 999), "extracurricular_activities_count": (-1, 99, 999),
                    schema.FINAL_GRADE: (-1, -5, 999)}
_SENTINEL_SET = {v for values in SENTINEL_CHOICES.values() for v in values} | {-9, -999, 9999}
# How a typical student information system names its export columns (all in the alias table).
EXPORT_HEADERS = {
    schema.USER_ID: "StudentID", "gender": "Gender", "attendance_rate": "AttendanceRate",
    "study_hours_per_week": "StudyHoursPerWeek", "previous_grade": "PreviousGrade",
    "extracurricular_activities_count": "ExtracurricularActivities",
    "parental_support": "ParentalSupport", schema.FINAL_GRADE: "FinalGrade",
}
PII_HEADERS = ("Name", "Email", "Phone")


@dataclass
class Sheet:
    """One semester's file before it is written: values as the reader returns them, plus errors."""

    truth: pd.DataFrame
    values: dict[str, np.ndarray]
    with_final_grades: bool
    pii: dict[str, np.ndarray] | None = None
    display: dict[tuple[int, str], tuple[str, str]] = field(default_factory=dict)
    stale: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    file_errors: list[dict[str, Any]] = field(default_factory=list)
    bad_cells: np.ndarray | None = None  # bad feature cells per student row, as cleaning sees them
    delimiter: str = ","
    decimal_comma: bool = False
    bom: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (schema.USER_ID, *schema.FEATURES, *((schema.FINAL_GRADE,) if self.with_final_grades else ()))

    def file_order(self) -> list[tuple[int, bool]]:
        """(student row, is the stale copy) in the order the file lists them."""
        order: list[tuple[int, bool]] = []
        for i in range(len(self.truth)):
            if i in self.stale:
                order.append((i, True))
            order.append((i, False))
        return order

    def _cell(self, i: int, stale: bool, column: str) -> Any:
        return self.stale[i][column] if stale else self.values[column][i]

    def parsed_frame(self) -> pd.DataFrame:
        """What the CSV reader returns for this file (rows without an id included, as None)."""
        n = len(self.truth)
        has_stale = np.zeros(n, dtype=np.int64)
        stale_rows = np.array(sorted(self.stale), dtype=np.int64)
        has_stale[stale_rows] = 1
        starts = np.cumsum(1 + has_stale) - (1 + has_stale)  # first file position of each student
        data: dict[str, Any] = {}
        for column in (schema.USER_ID, *VALUE_COLUMNS):
            numeric = column in NUMERIC or column == schema.FINAL_GRADE
            cells = np.empty(n + len(stale_rows), dtype=float if numeric else object)
            cells[starts + has_stale] = self.values[column]
            cells[starts[stale_rows]] = [self.stale[i][column] for i in stale_rows]
            data[column] = cells
        frame = pd.DataFrame(data)
        frame["extracurricular_activities_count"] = frame["extracurricular_activities_count"].round().astype("Int64")
        return frame

    def text(self, i: int, stale: bool, column: str) -> str:
        value = self._cell(i, stale, column)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            text = ""
        elif column in CATEGORICAL:
            text = str(value).title()
        elif column == schema.USER_ID:
            text = str(value)
        elif column == "extracurricular_activities_count":
            text = str(int(value))
        else:
            text = np.format_float_positional(float(value), trim="-")
            text = text.replace(".", ",") if self.decimal_comma else text
        prefix, suffix = self.display.get((i, column), ("", ""))
        return f"{prefix}{text}{suffix}" if not stale else text

    def render(self) -> bytes:
        header = [EXPORT_HEADERS[c] for c in self.columns]
        pii = list(self.pii) if self.pii else []
        header[1:1] = pii
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.delimiter, lineterminator="\r\n")
        writer.writerow(header)
        for i, stale in self.file_order():
            cells = [self.text(i, stale, c) for c in self.columns]
            cells[1:1] = [str(self.pii[name][i]) for name in pii] if self.pii else []
            writer.writerow(cells)
        return ("\ufeff" if self.bom else "").encode() + buffer.getvalue().encode("utf-8")

    def manifest(self) -> dict[str, Any]:
        row_of = {(i, s): position + 2 for position, (i, s) in enumerate(self.file_order())}
        errors = []
        for error in self.errors:
            i, column = error["student"], error["column"]
            stale = error["kind"] == "duplicate_row"
            entry = {k: v for k, v in error.items() if k != "student"}
            entry["row"] = row_of[(i, stale)]
            if "columns" in error:  # a row with several bad cells: what was written in each
                entry["written"] = {c: self.text(i, stale, c) for c in error["columns"]}
            else:
                entry["written"] = self.text(i, stale, column)
            errors.append(entry)
        return {"file_errors": self.file_errors, "errors": errors, "expected": self.expected(),
                "format": {"delimiter": self.delimiter, "decimal_comma": self.decimal_comma,
                           "bom": self.bom, "pii_columns": list(self.pii or ())}}

    def expected(self) -> dict[str, Any]:
        """The counts a correct reading and cleaning of this file reports."""
        kinds = pd.Series([e["kind"] for e in self.errors], dtype=object)
        dropped = {e["student"] for e in self.errors if e["kind"] == "missing_user_id"}
        keep = np.ones(len(self.truth), dtype=bool)
        keep[list(dropped)] = False
        bad = self.bad_cells if self.bad_cells is not None else np.zeros(len(self.truth), int)
        return {
            "students": len(self.truth),
            "rows_written": len(self.truth) + len(self.stale),
            "missing_user_id": len(dropped),
            "duplicate_rows": len(self.stale),
            "rows_out": int(keep.sum()),
            "imputed": int(((bad == 1) & keep).sum()),
            "excluded": int(((bad >= 2) & keep).sum()),
            "final_grade_out_of_range": int((kinds == "final_grade_out_of_range").sum()),
            "misspelled_category": int((kinds == "misspelled_category").sum()),
            "by_kind": {str(k): int(v) for k, v in kinds.value_counts().sort_index().items()},
        }

    def cells_with_errors(self) -> set[tuple[int, str]]:
        """(student row, column) cells of the current row that an error touched."""
        cells = set()
        for error in self.errors:
            if error["kind"] in ("duplicate_row",):
                continue
            for column in error.get("columns", [error["column"]]):
                cells.add((error["student"], column))
        return cells


def inject_errors(rng: np.random.Generator, truth: pd.DataFrame, config: GeneratorConfig,
                  pii: dict[str, np.ndarray] | None = None) -> Sheet:
    """Build the sheet of one semester: file-level kinds, then one error per chosen row."""
    truth = truth.reset_index(drop=True).copy()
    values = {c: truth[c].to_numpy(dtype=object).copy() for c in (schema.USER_ID, *VALUE_COLUMNS)}
    for column in (*NUMERIC, schema.FINAL_GRADE):
        values[column] = truth[column].to_numpy(dtype=float).copy()
    sheet = Sheet(truth, values, config.with_final_grades, pii)
    sheet.bad_cells = np.zeros(len(truth), dtype=int)
    if config.error_rate <= 0:
        return sheet
    kinds = set(config.error_kinds)
    drawn = [k for k in FILE_KINDS if rng.random() < config.file_error_rate and k in kinds]
    protected = _content_file_errors(rng, sheet, drawn)
    row_kinds = [k for k in ROW_KINDS if k in kinds]
    chosen = np.flatnonzero(rng.random(len(truth)) < config.error_rate) if row_kinds else []
    plan = {int(i): str(rng.choice(row_kinds)) for i in chosen}
    injector = _Injector(rng, sheet, protected)
    for i, kind in plan.items():
        if kind in _BEFORE_SCALING:
            injector.inject(kind, i)
    _scale_file_errors(sheet, drawn)
    for i, kind in plan.items():
        if kind not in _BEFORE_SCALING:
            injector.inject(kind, i)
    _format_file_errors(sheet, drawn)
    return sheet


def _content_file_errors(rng: np.random.Generator, sheet: Sheet, drawn: list[str]) -> set[str]:
    """Kinds that change values before anything else; returns the columns rows must not touch."""
    protected: set[str] = set()
    keep_visible: set[str] = set()  # columns an empty or constant column must not hide
    n = len(sheet.truth)
    if "bulk_zero_grades" in drawn:
        keep_visible.add("previous_grade")
        rows = np.flatnonzero(rng.random(n) < 0.06)
        sheet.truth.loc[rows, "previous_grade"] = 0.0  # real zeros: part of the truth
        sheet.values["previous_grade"][rows] = 0.0
        sheet.file_errors.append({"kind": "bulk_zero_grades", "column": "previous_grade",
                                  "rows": len(rows)})
    if "empty_feature" in drawn:
        column = str(rng.choice([c for c in schema.FEATURES if c not in keep_visible]))
        sheet.values[column][:] = np.nan if column in NUMERIC else None
        sheet.bad_cells += 1
        protected.add(column)
        sheet.file_errors.append({"kind": "empty_feature", "column": column})
    if "constant_feature" in drawn:
        column = str(rng.choice([c for c in schema.FEATURES if c not in protected | keep_visible]))
        series = sheet.truth[column]
        value = float(series.median().round()) if column in NUMERIC else str(series.mode()[0])
        sheet.values[column][:] = value
        protected.add(column)
        sheet.file_errors.append({"kind": "constant_feature", "column": column, "value": value})
    return protected


def _scale_file_errors(sheet: Sheet, drawn: list[str]) -> None:
    if "attendance_fraction" in drawn and "attendance_rate" not in _protected_columns(sheet):
        sheet.values["attendance_rate"] = np.round(sheet.values["attendance_rate"] / 100, 6)
        sheet.file_errors.append({"kind": "attendance_fraction", "column": "attendance_rate",
                                  "factor": 100})
    for kind, factor in (("grade_scale_20", 5), ("grade_scale_10", 10)):
        if kind in drawn:
            columns = [c for c in ("previous_grade", schema.FINAL_GRADE)
                       if c not in _protected_columns(sheet)
                       and (c != schema.FINAL_GRADE or sheet.with_final_grades)]
            for column in columns:
                sheet.values[column] = np.round(sheet.values[column] / factor, 6)
            sheet.file_errors.append({"kind": kind, "columns": columns, "factor": factor})
            break  # one scale per semester


def _protected_columns(sheet: Sheet) -> set[str]:
    return {e["column"] for e in sheet.file_errors if e["kind"] in ("empty_feature", "constant_feature")}


def _format_file_errors(sheet: Sheet, drawn: list[str]) -> None:
    if "bom" in drawn:
        sheet.bom = True
        sheet.file_errors.append({"kind": "bom"})
    if "decimal_comma" in drawn:
        sheet.delimiter, sheet.decimal_comma = ";", True
        sheet.file_errors.append({"kind": "decimal_comma"})
    elif "semicolon" in drawn:
        sheet.delimiter = ";"
        sheet.file_errors.append({"kind": "semicolon"})


# Kinds injected on clean values before a file-level rescaling, so they are rescaled with the
# rest (a real outlier is written on the file's scale); the others are typed over the result.
_BEFORE_SCALING = {"outlier", "misspelled_category", "missing_value", "missing_user_id",
                   "percent_string", "stray_whitespace"}


@dataclass
class _Injector:
    rng: np.random.Generator
    sheet: Sheet
    protected: set[str]

    def _pick(self, columns: tuple[str, ...]) -> str | None:
        allowed = [c for c in columns if c not in self.protected]
        return str(self.rng.choice(allowed)) if allowed else None

    def _record(self, kind: str, i: int, column: str, **extra: Any) -> None:
        truth = self.sheet.truth.at[i, column]
        truth = None if isinstance(truth, float) and np.isnan(truth) else truth
        self.sheet.errors.append({"kind": kind, "student": i, "user_id": self.sheet.truth.at[i, schema.USER_ID],
                                  "column": column, "truth": plain(truth), **extra})

    def inject(self, kind: str, i: int) -> None:
        getattr(self, f"_{kind}")(i)

    def _set(self, i: int, column: str, value: Any) -> None:
        self.sheet.values[column][i] = value

    def _bad_value(self, column: str, how: str) -> Any:
        if how == "missing_value":
            return np.nan if column in NUMERIC else None
        if how == "invalid_category" or column in CATEGORICAL:
            return str(self.rng.choice(INVALID[column]))
        if how == "sentinel":
            return float(self.rng.choice(SENTINEL_CHOICES[column]))
        spec = schema.NUMERIC_BY_NAME.get(column)
        high = spec.high if spec else 100.0
        if self.rng.random() < 0.25:  # a negative number, such as a stray minus sign
            value = -float(self.rng.integers(2, 40))
        else:
            value = float(np.round(self.rng.uniform(high * 1.01 + 1, high * 1.9 + 2), 0 if
                                   column == "extracurricular_activities_count" else 1))
        return value + 1 if value in _SENTINEL_SET else value

    def _bad_cell(self, kind: str, i: int) -> None:
        pool = CATEGORICAL if kind == "invalid_category" else (
            NUMERIC if kind in ("out_of_range", "sentinel") else schema.FEATURES)
        column = self._pick(pool)
        if column is None:
            return
        self._record(kind, i, column)
        self._set(i, column, self._bad_value(column, kind))
        self.sheet.bad_cells[i] += 1

    def _out_of_range(self, i: int) -> None:
        self._bad_cell("out_of_range", i)

    def _sentinel(self, i: int) -> None:
        self._bad_cell("sentinel", i)

    def _invalid_category(self, i: int) -> None:
        self._bad_cell("invalid_category", i)

    def _missing_value(self, i: int) -> None:
        self._bad_cell("missing_value", i)

    def _multi_bad_row(self, i: int) -> None:
        allowed = [c for c in schema.FEATURES if c not in self.protected]
        if len(allowed) < 2:
            return
        columns = [str(c) for c in self.rng.choice(allowed, size=min(len(allowed), int(self.rng.integers(2, 4))),
                                                     replace=False)]
        truth = {c: plain(self.sheet.truth.at[i, c]) for c in columns}
        self.sheet.errors.append({"kind": "multi_bad_row", "student": i,
                                  "user_id": self.sheet.truth.at[i, schema.USER_ID],
                                  "column": columns[0], "columns": columns, "truth": truth})
        for column in columns:
            how = str(self.rng.choice(["missing_value", "sentinel", "out_of_range"]))
            self._set(i, column, self._bad_value(column, how))
        self.sheet.bad_cells[i] += len(columns)

    def _misspelled_category(self, i: int) -> None:
        column = self._pick(CATEGORICAL)
        if column is not None:
            self._record("misspelled_category", i, column)
            self._set(i, column, str(self.rng.choice(TYPOS[self.sheet.truth.at[i, column]])))

    def _final_grade_out_of_range(self, i: int) -> None:
        if not self.sheet.with_final_grades:
            return
        self._record("final_grade_out_of_range", i, schema.FINAL_GRADE)
        how = "sentinel" if self.rng.random() < 0.3 else "out_of_range"
        self._set(i, schema.FINAL_GRADE, self._bad_value(schema.FINAL_GRADE, how))

    def _outlier(self, i: int) -> None:
        column = self._pick(("study_hours_per_week", "attendance_rate"))
        if column is None:
            return
        self._record("outlier", i, column)
        low, high = (110, 165) if column == "study_hours_per_week" else (2, 12)
        self._set(i, column, float(np.round(self.rng.uniform(low, high), 1)))

    def _duplicate_row(self, i: int) -> None:
        column = self._pick(("study_hours_per_week", "previous_grade", "attendance_rate"))
        if column is None:
            return
        stale = {c: self.sheet.values[c][i] for c in self.sheet.values}
        current = stale[column]
        # The older copy had another value that the registrar corrected later.
        step = float(np.round(self.rng.uniform(2, 6), 1)) * (1 if current < 50 else -1)
        stale[column] = np.round(current + step * (0.01 if current <= 1 else 1), 6)
        self.sheet.stale[i] = stale
        self._record("duplicate_row", i, column)

    def _missing_user_id(self, i: int) -> None:
        self._record("missing_user_id", i, schema.USER_ID)
        self._set(i, schema.USER_ID, None)

    def _percent_string(self, i: int) -> None:
        if "attendance_rate" not in self.protected:
            self._record("percent_string", i, "attendance_rate")
            self.sheet.display[(i, "attendance_rate")] = ("", "%")

    def _stray_whitespace(self, i: int) -> None:
        column = self._pick(("gender", "parental_support", "attendance_rate", "previous_grade"))
        if column is not None:
            self._record("stray_whitespace", i, column)
            self.sheet.display[(i, column)] = ("  ", " ")
