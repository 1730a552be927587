"""What cleaning measures against: the reference (medians, robust scales, modes) and the
column helpers that both fitting a reference and cleaning a semester use."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gradewatch import schema

FLAGS = "quality_flags"
UPDATED_AT = "updated_at"
NUMERIC = tuple(f.name for f in schema.NUMERIC_FEATURES)
CATEGORICAL = tuple(f.name for f in schema.CATEGORICAL_FEATURES)
MIN_STATS = 5  # valid values needed for a robust scale


@dataclass(frozen=True)
class CleaningReference:
    """Medians, robust scales and modes of a training frame: what to impute, what is an outlier.

    ``scales`` holds the robust standard deviation (1.4826 x MAD); None means "too few values
    to call anything an outlier".
    """

    medians: dict[str, float]
    scales: dict[str, float | None]
    modes: dict[str, str]
    source: str = "training"
    n_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"medians": dict(self.medians), "scales": dict(self.scales),
                "modes": dict(self.modes), "source": self.source, "n_rows": self.n_rows}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CleaningReference:
        return cls(
            medians={k: float(v) for k, v in data["medians"].items()},
            scales={k: None if v is None else float(v) for k, v in data["scales"].items()},
            modes={k: str(v) for k, v in data["modes"].items()},
            source=str(data.get("source", "training")),
            n_rows=int(data.get("n_rows", 0)),
        )


# Last resort when neither a reference nor the semester has a usable value for a feature:
# the centre of the documented generative model (gradewatch.synthetic.generator). Gender falls back to
# "other" rather than guessing one of the two large groups.
DEFAULT_REFERENCE = CleaningReference(
    medians={"attendance_rate": 88.0, "study_hours_per_week": 12.0, "previous_grade": 70.0,
             "extracurricular_activities_count": 1.0},
    scales={"attendance_rate": 7.0, "study_hours_per_week": 6.0, "previous_grade": 12.0,
            "extracurricular_activities_count": 1.5},
    modes={"gender": "other", "parental_support": "medium"},
    source="default",
)


def fit_reference(frame: pd.DataFrame, source: str = "training") -> CleaningReference:
    """The reference of a training frame: statistics of its valid, not-imputed cells only."""
    work = canonical_columns(frame)
    prior = prior_flags(work)
    medians: dict[str, float] = {}
    scales: dict[str, float | None] = {}
    modes: dict[str, str] = {}
    for name in NUMERIC:
        spec = schema.NUMERIC_BY_NAME[name]
        values, _ = as_float(work[name])
        usable = in_range(values, spec) & ~flagged(prior, "imputed", name, len(values))
        medians[name], scales[name] = robust_stats(values[usable], name, spec.integer)
    for name in CATEGORICAL:
        values = work[name].to_numpy(dtype=object)
        allowed = schema.CATEGORICAL_BY_NAME[name].categories
        usable = pd.Series(values).isin(allowed).to_numpy() & ~flagged(prior, "imputed", name,
                                                                         len(values))
        modes[name] = mode(values[usable], name)
    return CleaningReference(medians, scales, modes, source=source, n_rows=len(frame))


Columns = dict[str, pd.Series]


def canonical_columns(frame: pd.DataFrame) -> Columns:
    """Every canonical column (missing ones empty), as separate series: no DataFrame
    consolidation copies on a million rows."""
    n = len(frame)
    columns: Columns = {}
    for name in (*schema.UPLOAD_COLUMNS, UPDATED_AT, FLAGS):
        if name in frame.columns:
            columns[name] = frame[name].reset_index(drop=True)
        elif name in (*NUMERIC, schema.FINAL_GRADE):
            columns[name] = pd.Series(np.full(n, np.nan))
        else:
            columns[name] = pd.Series(np.full(n, None, dtype=object))
    return columns


def as_float(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as float64 and the mask of cells that held something that is not a number."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64").to_numpy(copy=True), np.zeros(len(series), dtype=bool)
    numbers = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(copy=True)
    present = series.notna().to_numpy() & (series.astype(str).str.strip() != "").to_numpy()
    return numbers, present & np.isnan(numbers)


def in_range(values: np.ndarray, spec: schema.NumericFeature) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = (values >= spec.low) & (values <= spec.high)
    if spec.integer:
        ok &= np.floor(np.where(ok, values, 0)) == np.where(ok, values, 0)
    return ok


def prior_flags(work: Columns) -> pd.Series | None:
    """The flags of a previous cleaning, or None when there are none (the usual case)."""
    flags = work[FLAGS]
    if not flags.notna().any():
        return None
    text = flags.fillna("").astype(str)
    return text if (text.str.len() > 0).any() else None


def flagged(prior: pd.Series | None, rule: str, column: str, n: int) -> np.ndarray:
    """Cells a previous cleaning already flagged with ``rule`` (any rule when rule is '')."""
    if prior is None:
        return np.zeros(n, dtype=bool)
    pattern = rf"(?:^|;){rule or '[a-z_]+'}:{column}(?:;|$)"
    return prior.str.contains(pattern, regex=True).to_numpy()


def robust_stats(values: np.ndarray, name: str, integer: bool) -> tuple[float, float | None]:
    if values.size == 0:
        return DEFAULT_REFERENCE.medians[name], DEFAULT_REFERENCE.scales[name]
    median = float(np.median(values))
    scale: float | None = None
    if values.size >= MIN_STATS:
        deviations = np.abs(values - median)
        # 1.4826 x MAD estimates the SD of normal data; when more than half the values tie,
        # the mean absolute deviation (x 1.2533) still gives a usable scale.
        scale = 1.4826 * float(np.median(deviations)) or 1.2533 * float(np.mean(deviations))
        scale = scale or None
    if integer:
        median = float(math.floor(median + 0.5))
    return median, scale


def mode(values: np.ndarray, name: str) -> str:
    if values.size == 0:
        return DEFAULT_REFERENCE.modes[name]
    counts = pd.Series(values).value_counts()
    order = schema.CATEGORICAL_BY_NAME[name].categories
    # Ties go to the first category in the schema's order, so the result is deterministic.
    return max(order, key=lambda c: (int(counts.get(c, 0)), -order.index(c)))


