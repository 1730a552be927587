"""Cleaning rules over one semester's stored rows: what parses but is wrong.

The upload path keeps every value that parses (out-of-range numbers, sentinels, unknown
category spellings, attendance as a fraction, grades on 0-20). This module decides about them,
in this order (each rule is named and documented in :data:`gradewatch.quality.report.RULES`):

1. rows without ``user_id`` are dropped; a student listed twice keeps the most recently
   updated row (``updated_at``; else the later row of the file);
2. whole-file conversions, only on unambiguous evidence: attendance given as 0-1 is multiplied
   by 100; a grade column on a 0-20 or 0-10 scale is rescaled to 0-100;
3. per cell: missing, unparseable, sentinel, out of range, fractional count, invalid category
   (a category that unambiguously misspells an allowed one is fixed instead);
4. per row: at most one bad feature (of the six predictors) -> the value is imputed from the
   reference (median or mode) and the row is flagged ``imputed:<column>``; two or more ->
   the row is ``excluded`` from prediction and its bad cells are left empty;
5. the final grade is the target: outside 0-100 it becomes unknown, and is never imputed;
6. robust outliers (median/MAD) are flagged and kept; grades of 0, constant and all-missing
   features are counted and reported.

Idempotent by construction: converted columns no longer meet the conversion evidence, fixed
cells are valid, and the statistics of a semester without a training reference are computed
on the valid cells that were not imputed, which is the same set on a second pass (the flags of
the first pass say which cells were imputed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gradewatch import schema
from gradewatch.quality.categories import match_category
from gradewatch.quality.reference import (
    CATEGORICAL,
    DEFAULT_REFERENCE,
    FLAGS,
    NUMERIC,
    UPDATED_AT,
    CleaningReference,
    Columns,
    as_float,
    canonical_columns,
    fit_reference,
    flagged,
    in_range,
    mode,
    prior_flags,
    robust_stats,
)
from gradewatch.quality.report import QualityReport

EXCLUDED = "excluded"
OUTPUT_COLUMNS: tuple[str, ...] = (*schema.UPLOAD_COLUMNS, FLAGS, EXCLUDED)
GRADE_COLUMNS = ("previous_grade", schema.FINAL_GRADE)

SENTINELS = np.array([-9999, -999, -99, -9, -5, -1, 99, 200, 999, 9999], dtype=float)
# In-range values that are still placeholders when they are robust outliers: nobody studies
# 99 hours a week, while 99% attendance or a grade of 99 are real.
IN_RANGE_SENTINELS: dict[str, tuple[float, ...]] = {"study_hours_per_week": (99.0,)}
OUTLIER_Z = 3.5  # Iglewicz and Hoaglin's cut-off for the modified z-score
MIN_FRACTION_EVIDENCE = 5  # attendance values needed to call a file "fractions"
MIN_SCALE_EVIDENCE = 10  # positive grades needed to call a column "0-20" or "0-10"
BULK_ZERO = (3, 0.01)  # at least 3 rows and 1% of the grades


@dataclass
class CleaningResult:
    frame: pd.DataFrame
    report: QualityReport


def clean_semester(frame: pd.DataFrame, reference: CleaningReference | None = None) -> CleaningResult:
    """Clean one semester. Deterministic, idempotent, never raises on parsed rows."""
    report = QualityReport(rows_in=len(frame))
    work = _drop_rows(canonical_columns(frame), report)
    run = _Run(work, report)
    for name in CATEGORICAL:
        run.categorical(name)
    for name in NUMERIC:
        run.numeric(name)
    stats = run.statistics(reference)
    for name in NUMERIC:
        run.placeholders_and_outliers(name)
    run.final_grade()
    run.impute_or_exclude(stats)
    run.describe_features()
    return CleaningResult(run.output(), report)


# --- rows ------------------------------------------------------------------------------------


def _keep(work: Columns, keep: np.ndarray) -> Columns:
    if keep.all():
        return work
    return {name: series[keep].reset_index(drop=True) for name, series in work.items()}


def _drop_rows(work: Columns, report: QualityReport) -> Columns:
    ids = _id_text(work[schema.USER_ID])
    work = {**work, schema.USER_ID: ids}
    missing = ids.isna().to_numpy()
    n = len(ids)
    # Newest last: a stable sort on updated_at (unknown times count as oldest), keep the last.
    order = np.arange(n)
    if work[UPDATED_AT].notna().any():
        stamps = work[UPDATED_AT]
        if not isinstance(stamps.dtype, pd.DatetimeTZDtype):  # as stored they are already: 1.7 s per 1M
            stamps = pd.to_datetime(stamps, errors="coerce", utc=True)
        # As int64 nanoseconds (to_numpy() of zoned stamps builds 1M Timestamp objects, 2 s);
        # NaT is the smallest int64, so unknown times sort first, as the oldest.
        order = np.argsort(stamps.array.asi8, kind="stable")
    key = np.zeros(n, dtype=np.int64)
    for name in (schema.USER_ID, schema.START, schema.END):
        codes, uniques = pd.factorize(work[name], use_na_sentinel=True)
        key = key * (len(uniques) + 1) + (codes + 1)
    key[missing] = -1 - np.arange(int(missing.sum()))  # rows without id are never duplicates
    duplicate = np.zeros(n, dtype=bool)
    duplicate[order] = pd.Series(key[order]).duplicated(keep="last").to_numpy()
    for rule, mask in (("missing_user_id", missing), ("duplicate_user_id", duplicate)):
        report.dropped[rule] = int(mask.sum())
        report.count(rule, schema.USER_ID, int(mask.sum()))
    report.rows_out = n - int(missing.sum()) - int(duplicate.sum())
    return _keep(work, ~(missing | duplicate))


# Control characters are never part of an id; pandas even hashes "e\x00" like "e" in places.
_CONTROL = {c: None for c in (*range(0x20), 0x7F)}


# A character that trimming or cleaning would touch: one of _CONTROL, or white space (an id
# with white space inside is plain, but a search for it at the ends only costs 8x more).
_NOT_PLAIN = re.compile("[" + "".join(re.escape(chr(c)) for c in _CONTROL) + r"\s]")


def _id_text(ids: pd.Series) -> pd.Series:
    """Ids as trimmed text; empty ones become None. A plain loop: pandas' .str is 5x slower.

    Stored ids (the upload trimmed and checked them) are plain already: one search over them
    all says so and skips the loop, 0.7 s of a 1.6 s cleaning at 1M students.
    """
    values = ids.to_numpy(dtype=object)
    if _already_plain(values):
        return pd.Series(values.copy())
    text = [(v.translate(_CONTROL).strip() or None) if v.__class__ is str else _other_id(v) for v in values]
    return pd.Series(np.array(text, dtype=object) if text else values)


def _already_plain(values: np.ndarray) -> bool:
    """Whether every id is text with no control character and no white space, and not empty:
    what the per-id loop of :func:`_id_text` would leave as it is."""
    try:
        text = "|".join(values)
    except TypeError:  # not all text
        return False
    # An empty id leaves two "|" side by side, or one at an end, whatever its neighbours hold.
    empty = not text or "||" in text or text.startswith("|") or text.endswith("|")
    return not empty and _NOT_PLAIN.search(text) is None


def _other_id(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).translate(_CONTROL).strip() or None


# --- one cleaning run -------------------------------------------------------------------------


@dataclass
class _Run:
    work: Columns
    report: QualityReport
    prior: pd.Series | None = field(init=False)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    bad: dict[str, np.ndarray] = field(default_factory=dict)
    usable: dict[str, np.ndarray] = field(default_factory=dict)
    tokens: list[tuple[str, np.ndarray]] = field(default_factory=list)
    spread: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prior = prior_flags(self.work)
        self.n = len(self.work[schema.USER_ID])

    def flag(self, rule: str, column: str | None, mask: np.ndarray, *, count: bool = True) -> None:
        if not mask.any():
            return
        if count:
            self.report.count(rule, column, int(mask.sum()))
        self.tokens.append((f"{rule}:{column}" if column else rule, mask))

    def flag_bad(self, rule: str, column: str, mask: np.ndarray) -> None:
        if rule == "missing_value":
            # An empty cell that a previous pass already explained (out_of_range, ...) keeps
            # that explanation: this is what makes a second pass add no flag.
            mask = mask & ~flagged(self.prior, "", column, self.n)
        self.flag(rule, column, mask)

    def categorical(self, name: str) -> None:
        allowed = schema.CATEGORICAL_BY_NAME[name].categories
        codes, uniques = pd.factorize(self.work[name], use_na_sentinel=True)
        mapped = np.empty(len(uniques) + 1, dtype=object)
        status = np.zeros(len(uniques) + 1, dtype=np.int8)  # 0 ok, 1 fixed, 2 invalid, 3 missing
        mapped[-1], status[-1] = None, 3
        for i, raw in enumerate(uniques):
            text = schema.normalise_category(name, str(raw))
            if text in allowed:
                mapped[i] = text
            elif not text:
                mapped[i], status[i] = None, 3
            else:
                fixed = match_category(name, text)
                mapped[i], status[i] = (fixed, 1) if fixed else (None, 2)
        cell_status = status[codes]  # codes of -1 pick the trailing "missing" slot
        values = mapped[codes]
        self.flag("misspelled_category", name, cell_status == 1)
        self.flag_bad("invalid_category", name, cell_status == 2)
        self.flag_bad("missing_value", name, cell_status == 3)
        self.values[name] = values
        self.bad[name] = cell_status >= 2
        self.usable[name] = (cell_status <= 1) & ~flagged(self.prior, "imputed", name, self.n)

    def numeric(self, name: str) -> None:
        spec = schema.NUMERIC_BY_NAME[name]
        raw, unparseable = as_float(self.work[name])
        values = self._converted(name, raw)
        with np.errstate(invalid="ignore"):
            finite_range = (values >= spec.low) & (values <= spec.high)
        missing = np.isnan(raw) & ~unparseable
        sentinel = np.isin(raw, SENTINELS) & ~finite_range
        out_of_range = ~finite_range & ~np.isnan(values) & ~sentinel
        fractional = finite_range & ~in_range(values, spec) if spec.integer else np.zeros(self.n, bool)
        self.flag_bad("missing_value", name, missing)
        self.flag_bad("unparseable", name, unparseable)
        self.flag_bad("sentinel", name, sentinel)
        self.flag_bad("out_of_range", name, out_of_range)
        self.flag_bad("not_integer", name, fractional)
        bad = missing | unparseable | sentinel | out_of_range | fractional
        self.values[name] = np.where(bad, np.nan, values)
        self.bad[name] = bad
        self.usable[name] = ~bad & ~flagged(self.prior, "imputed", name, self.n)

    def _converted(self, name: str, raw: np.ndarray) -> np.ndarray:
        """Apply a whole-column scale conversion when the evidence is unambiguous."""
        evidence = raw[(raw >= 0) & (raw <= 100) & ~flagged(self.prior, "imputed", name, self.n)]
        factor, description = 1.0, ""
        if name == "attendance_rate" and evidence.size >= MIN_FRACTION_EVIDENCE:
            fractions = evidence[evidence <= 1]
            # Most values in 0-1 and a plausible median attendance (>= 20%): a fraction file.
            if fractions.size >= 0.9 * evidence.size and np.median(fractions) >= 0.2:
                factor = 100.0
                description = (f"attendance given as a fraction ({fractions.size} of "
                               f"{evidence.size} values in 0-1): multiplied by 100")
                self.report.count("attendance_fraction", name, int(np.isfinite(raw).sum()))
        elif name in GRADE_COLUMNS:
            factor, description = self._grade_scale(name, evidence[evidence > 0], raw)
        if factor == 1.0:
            return raw
        self.report.conversions.append({"column": name, "factor": factor, "description": description})
        with np.errstate(over="ignore", invalid="ignore"):
            return np.round(raw * factor, 6)

    def _grade_scale(self, name: str, positive: np.ndarray, raw: np.ndarray) -> tuple[float, str]:
        if positive.size < MIN_SCALE_EVIDENCE:
            return 1.0, ""
        q98, median = float(np.quantile(positive, 0.98)), float(np.median(positive))
        for top, factor in ((10.0, 10.0), (20.0, 5.0)):
            # 98% of the positive grades at most ``top`` and a median that is not itself tiny:
            # the column is on a 0-``top`` scale. 2% of stray values are tolerated (typos).
            if q98 <= top and median > top / 5:
                self.report.count("grade_scale", name, int(np.isfinite(raw).sum()))
                return factor, (f"grades on a 0-{top:g} scale (98th percentile {q98:g}, median "
                                f"{median:g}, {positive.size} grades): multiplied by {factor:g}")
        if q98 <= 20.0:
            self.report.warnings.append(
                f"{name}: 98% of the grades are at most 20 but the median ({median:g}) is too "
                "low to tell the scale; not converted")
        return 1.0, ""

    def statistics(self, reference: CleaningReference | None) -> CleaningReference:
        """What to impute (the reference, else the semester) and, in ``self.spread``, the
        centre and robust scale that outliers are measured against."""
        own = self._own_statistics()
        if reference is None:
            self.report.reference_source = "semester"
            self.report.reference_note = (
                "No training reference was given: the semester's own robust statistics (median, "
                "MAD, mode of its valid cells) were used.")
            self.spread = {n: (own.medians[n], own.scales[n]) for n in NUMERIC}
            return own
        self.report.reference_source = reference.source
        self.spread, borrowed = {}, []
        for name in NUMERIC:
            scale = reference.scales.get(name)
            if name in reference.medians and scale is not None and np.isfinite(scale) and scale > 0:
                self.spread[name] = (reference.medians[name], scale)
            else:  # a reference without spread for this column (e.g. it was constant)
                self.spread[name] = (own.medians[name], own.scales[name])
                borrowed.append(name)
        note = f"Fitted on {reference.n_rows} rows."
        if borrowed:
            note += (" The reference has no spread for " + ", ".join(borrowed)
                     + ": outliers there are measured against the semester's own statistics.")
        self.report.reference_note = note
        return CleaningReference({**own.medians, **reference.medians}, {**own.scales, **reference.scales},
                                 {**own.modes, **reference.modes}, reference.source, reference.n_rows)

    def _own_statistics(self) -> CleaningReference:
        medians, scales, modes = {}, {}, {}
        for name in NUMERIC:
            candidates = np.isin(self.values[name], IN_RANGE_SENTINELS.get(name, ()))
            usable = self.values[name][self.usable[name] & ~candidates]
            medians[name], scales[name] = robust_stats(usable, name, schema.NUMERIC_BY_NAME[name].integer)
        for name in CATEGORICAL:
            modes[name] = mode(self.values[name][self.usable[name]], name)
        return CleaningReference(medians, scales, modes, source="semester", n_rows=self.n)

    def placeholders_and_outliers(self, name: str) -> None:
        values, (center, scale) = self.values[name], self.spread[name]
        if scale is None or not np.isfinite(scale) or scale <= 0:
            return
        with np.errstate(invalid="ignore"):
            extreme = np.abs(values - center) / scale > OUTLIER_Z
        # A value this cleaning imputed earlier is the reference's own median or mode: judging it
        # again against other statistics would break idempotence.
        extreme &= ~flagged(self.prior, "imputed", name, self.n)
        placeholder = extreme & np.isin(values, IN_RANGE_SENTINELS.get(name, ()))
        self.flag_bad("sentinel", name, placeholder)
        self.bad[name] = self.bad[name] | placeholder
        self.values[name] = np.where(placeholder, np.nan, values)
        self.flag("outlier", name, extreme & ~placeholder)

    def final_grade(self) -> None:
        name = schema.FINAL_GRADE
        raw, unparseable = as_float(self.work[name])
        values = self._converted(name, raw)
        with np.errstate(invalid="ignore"):
            valid = (values >= 0) & (values <= 100)
        invalid = ~valid & (~np.isnan(raw) | unparseable)
        self.flag("final_grade_out_of_range", name, invalid)
        self.values[name] = np.where(valid, values, np.nan)

    def impute_or_exclude(self, stats: CleaningReference) -> None:
        matrix = np.column_stack([self.bad[name] for name in schema.FEATURES]) if self.n else \
            np.zeros((0, len(schema.FEATURES)), dtype=bool)
        bad_count = matrix.sum(axis=1)
        single = bad_count == 1
        for name in schema.FEATURES:
            target = single & self.bad[name]
            if not target.any():
                continue
            fill = stats.modes[name] if name in CATEGORICAL else stats.medians[name]
            column = self.values[name].copy() if name in CATEGORICAL else self.values[name]
            column[target] = fill
            self.values[name] = column
            self.flag("imputed", name, target, count=False)
            self.report.imputed_by_column[name] = int(target.sum())
        excluded = bad_count >= 2
        self.flag("excluded", None, excluded, count=False)
        self.excluded = excluded
        self.report.imputed = int(single.sum())
        self.report.excluded = int(excluded.sum())
        counts = pd.Series(bad_count[excluded]).value_counts().sort_index()
        self.report.excluded_by_bad_features = {str(k): int(v) for k, v in counts.items()}

    def describe_features(self) -> None:
        for name in schema.FEATURES:
            usable = self.usable[name] & ~self.bad[name]
            distinct = pd.Series(self.values[name][usable]).nunique()
            constant = bool(usable.sum() >= 2 and distinct == 1)
            all_missing = bool(self.n and not usable.any())
            self.report.features[name] = {"valid": int(usable.sum()), "bad": int(self.bad[name].sum()),
                                          "constant": constant, "all_missing": all_missing}
            if constant:
                self.report.count("constant_feature", name, 1)
                self.report.warnings.append(f"{name} has one single value in this semester")
            if all_missing:
                self.report.count("all_missing_feature", name, 1)
                self.report.warnings.append(f"{name} has no usable value in this semester")
        for name in GRADE_COLUMNS:
            zero = self.values[name] == 0
            known = int((~np.isnan(self.values[name])).sum())
            count = int(zero.sum())
            bulk = count >= BULK_ZERO[0] and count >= BULK_ZERO[1] * max(known, 1)
            self.report.zero_grades[name] = {"count": count, "share": round(count / known, 4) if known else 0.0,
                                             "bulk": bulk}
            self.flag("zero_grade", name, zero)

    def output(self) -> pd.DataFrame:
        columns: dict[str, Any] = {
            name: self.work[name].to_numpy(dtype=object) for name in (schema.USER_ID, schema.START, schema.END)
        }
        for name in (*schema.FEATURES, schema.FINAL_GRADE):
            columns[name] = self.values[name]
        columns["extracurricular_activities_count"] = pd.array(
            np.round(self.values["extracurricular_activities_count"].astype(float)), dtype="Int64")
        columns[FLAGS] = self._flag_strings()
        columns[EXCLUDED] = self.excluded
        return pd.DataFrame(columns, columns=list(OUTPUT_COLUMNS), copy=False)

    def _flag_strings(self) -> np.ndarray:
        result = (np.full(self.n, "", dtype=object) if self.prior is None
                  else self.prior.to_numpy(dtype=object).copy())
        if not self.tokens:
            return result
        names = np.array([t for t, _ in self.tokens], dtype=object)
        matrix = np.column_stack([m for _, m in self.tokens])
        for row in np.flatnonzero(matrix.any(axis=1)):
            new = names[matrix[row]]
            if result[row]:
                seen = result[row].split(";")
                new = [*seen, *(t for t in new if t not in seen)]
            result[row] = ";".join(new)
        return result


__all__ = ["DEFAULT_REFERENCE", "OUTPUT_COLUMNS", "CleaningReference", "CleaningResult",
           "clean_semester", "fit_reference"]
