"""One structured log record per upload, cleaning, drift computation, prediction run and
evaluation (SPEC section 8), for the Kibana dashboards *Data quality* and *Drift and predictions*.

Each ``*_summary`` function turns a core outcome into the fields of one record and
:func:`emit` logs it with ``event`` set to its name. Fields are counts, shares, effect sizes,
MAEs and names from fixed sets (columns, cleaning rules, features): never a row's value. Every
field of every event is always present (0 when nothing happened), so a dashboard can rely on
it; only the risk tiers and the label-free estimate appear when they exist.
:data:`SUMMARY_FIELD_TYPES` types them for Elasticsearch (merged into ``gradewatch.logs``).
The fields are documented in ``elk/README.md``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from gradewatch import schema
from gradewatch.quality.report import RULES

log = logging.getLogger("gradewatch.summary")

UPLOAD, CLEANING, DRIFT, PREDICTION, PERFORMANCE = (
    "upload_summary", "cleaning_summary", "drift_summary", "prediction_summary", "performance_summary",
)  # fmt: skip
EVENTS = (UPLOAD, CLEANING, DRIFT, PREDICTION, PERFORMANCE)

WHOLE_ROW = "row"  # the kind of an error that concerns no single column (too many cells, say)
ERROR_KINDS = (*schema.UPLOAD_COLUMNS, WHOLE_ROW)
RISK_TIERS = ("high", "moderate", "low")
ACCURACY_FIELDS = ("mae", "rmse", "r2", "interval_coverage", "at_risk_precision", "at_risk_recall")

SUMMARY_FIELD_TYPES: dict[str, str] = {
    "event": "keyword",
    # upload_summary (plus the rows_* fields of uploads, semester, upload_mode, token_name)
    "upload_source": "keyword",
    "invalid_share": "float",
    **{f"upload_errors.{kind}": "integer" for kind in ERROR_KINDS},
    # cleaning_summary
    "rows_cleaned": "integer",  # rows the cleaning read
    "rows_kept": "integer",  # usable for prediction (clean or imputed)
    "rows_imputed": "integer",
    "rows_excluded": "integer",
    "excluded_share": "float",
    **{f"quality_rules.{rule}": "integer" for rule in RULES},
    # drift_summary (model_version: the champion whose training data is the reference)
    "dataset_drift": "keyword",
    "drifted_features": "integer",
    **{f"drift_effect.{feature}": "float" for feature in schema.FEATURES},
    **{f"drift_effect_vs_threshold.{feature}": "float" for feature in schema.FEATURES},
    # prediction_summary
    "model_role": "keyword",
    "students_predicted": "integer",
    "students_at_risk": "integer",
    "at_risk_share": "float",
    **{f"students_{tier}_risk": "integer" for tier in RISK_TIERS},
    # performance_summary
    "students_evaluated": "integer",
    **dict.fromkeys(ACCURACY_FIELDS, "float"),
    "within_tolerance": "keyword",
    "validation_mae": "float",
    "estimated_mae": "float",
    "estimated_mae_lower": "float",
    "estimated_mae_upper": "float",
}


def emit(event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Log the summary record ``event`` with ``fields``; returns what was logged."""
    record = {"event": event, **fields}
    log.info("%s for %s", event, record.get("semester", "-"), extra=record)
    return record


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def upload_summary(counts: Mapping[str, Any], *, source: str, token_name: str | None, unchanged: int,
                   dropped_columns: int, error_columns: Iterable[str | None]) -> dict[str, Any]:
    """An accepted upload. ``counts``: ``IngestResult.log_fields()`` (semester, mode, rows_*);
    ``error_columns``: the column of each row error (None: the whole row)."""
    by_kind = Counter(column if column in ERROR_KINDS else WHOLE_ROW for column in error_columns)
    return {
        **counts, "upload_source": source, "token_name": token_name, "rows_unchanged": unchanged,
        "dropped_columns": dropped_columns,
        "invalid_share": _share(counts["rows_rejected"], counts["rows_received"]),
        **{f"upload_errors.{kind}": by_kind.get(kind, 0) for kind in ERROR_KINDS},
    }  # fmt: skip


def cleaning_summary(*, semester: str, rows_in: int, rows_out: int, imputed: int, excluded: int,
                     rules: Mapping[str, int]) -> dict[str, Any]:
    """A cleaning run: rows in, kept, imputed, excluded, and how often each rule fired."""
    return {
        "semester": semester, "rows_cleaned": rows_in, "rows_kept": rows_out - excluded,
        "rows_imputed": imputed, "rows_excluded": excluded, "excluded_share": _share(excluded, rows_in),
        **{f"quality_rules.{rule}": int(rules.get(rule, 0)) for rule in RULES},
    }  # fmt: skip


def drift_summary(*, semester: str, reference_version: str | None,
                  features: Iterable[Any]) -> dict[str, Any]:
    """``features``: the :class:`~gradewatch.monitoring.drift.FeatureDrift` of each feature (none
    when drift could not be measured: no model yet, too few rows)."""
    effect: dict[str, float] = {}
    ratio: dict[str, float] = {}
    drifted = 0
    for found in features:
        drifted += bool(found.drifted)
        if found.statistic is None or found.feature not in schema.FEATURES:
            continue
        effect[found.feature] = float(found.statistic)
        if found.threshold:
            ratio[found.feature] = float(found.statistic) / float(found.threshold)
    return {
        "semester": semester, "model_version": reference_version,
        "dataset_drift": "true" if drifted else "false", "drifted_features": drifted,
        **{f"drift_effect.{name}": effect[name] for name in schema.FEATURES if name in effect},
        **{f"drift_effect_vs_threshold.{name}": ratio[name] for name in schema.FEATURES if name in ratio},
    }  # fmt: skip


def prediction_summary(*, semester: str, model_version: str | None, role: str, predicted: int, at_risk: int,
                       tiers: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A prediction run; ``tiers``: students per risk tier, when the model gives tiers."""
    fields: dict[str, Any] = {
        "semester": semester, "model_version": model_version, "model_role": role,
        "students_predicted": predicted, "students_at_risk": at_risk, "at_risk_share": _share(at_risk, predicted),
    }  # fmt: skip
    if tiers is not None:
        fields |= {f"students_{tier}_risk": int(tiers.get(tier, 0)) for tier in RISK_TIERS}
    return fields


def performance_summary(*, semester: str, model_version: str | None, students: int,
                        metrics: Mapping[str, float | None], within_tolerance: bool | None,
                        validation_mae: float | None, estimate: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An evaluation once grades are in; ``estimate``: the label-free estimate made beforehand."""
    fields: dict[str, Any] = {
        "semester": semester, "model_version": model_version, "students_evaluated": students,
        **{name: metrics.get(name) for name in ACCURACY_FIELDS},
        "within_tolerance": None if within_tolerance is None else str(bool(within_tolerance)).lower(),
        "validation_mae": validation_mae,
    }  # fmt: skip
    if estimate:
        fields |= {name: estimate.get(name) for name in ("estimated_mae", "estimated_mae_lower",
                                                         "estimated_mae_upper")}
    return fields
