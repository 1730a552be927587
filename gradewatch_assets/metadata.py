"""Markdown and metadata renderings shown in the Dagster UI."""

from __future__ import annotations

import dagster as dg

from gradewatch.monitoring.checks import Verdict
from gradewatch.monitoring.drift import DriftReport
from gradewatch.pipeline import PerformanceOutcome

# Who answers for an asset: the data team for what is uploaded and cleaned, the ML engineer for
# models, drift, predictions and accuracy.
DATA_OWNERS = ["team:data-platform"]
ML_OWNERS = ["team:ml-engineering"]

_SEVERITY = {"warning": dg.AssetCheckSeverity.WARN, "error": dg.AssetCheckSeverity.ERROR}


def table_metadata(table: str, rows: int) -> dict[str, object]:
    """The table an asset writes and the rows it wrote for this partition, under the keys the
    Dagster UI shows as the asset's table name and row count."""
    return {"dagster/table_name": table, "dagster/row_count": dg.MetadataValue.int(rows)}


def check_result(verdict: Verdict) -> dg.AssetCheckResult:
    """A core verdict as a Dagster asset check result (its alert was raised by the core)."""
    return dg.AssetCheckResult(check_name=verdict.check, passed=verdict.passed,
                               severity=_SEVERITY[verdict.severity], metadata=verdict.metadata)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def drift_table(report: DriftReport) -> str:
    lines = ["| feature | method | effect | p-value | PSI | band | drifted |", "|---|---|---|---|---|---|---|"]
    for f in report.features:
        lines.append(f"| {f.feature} | {f.method} | {_fmt(f.statistic)} | {_fmt(f.p_value, 4)} | "
                     f"{_fmt(f.psi)} | {f.psi_band or ''} | {'**yes**' if f.drifted else 'no'} |")
    return "\n".join(lines)


def evaluation_metadata(outcome: PerformanceOutcome) -> dict[str, object]:
    metadata: dict[str, object] = {
        "model_version": str(outcome.model_version),
        "grade_coverage": dg.MetadataValue.float(round(outcome.grade_coverage, 4)),
        "within_tolerance": str(outcome.within_tolerance),
    }
    if outcome.evaluation is None:
        metadata["note"] = outcome.reason
        return metadata
    overall = outcome.evaluation.overall
    for name in ("mae", "rmse", "r2", "interval_coverage", "at_risk_precision", "at_risk_recall", "at_risk_f1"):
        value = getattr(overall, name, None)
        if value is not None:
            metadata[name] = dg.MetadataValue.float(round(float(value), 4))
    metadata["students_evaluated"] = outcome.evaluation.n_students
    metadata["max_gender_gap"] = dg.MetadataValue.json(outcome.evaluation.max_gender_gap)
    calibration = outcome.evaluation.calibration
    if calibration.calibration_error is not None:
        metadata["brier_score"] = dg.MetadataValue.float(round(calibration.brier_score, 4))
        metadata["calibration_error"] = dg.MetadataValue.float(round(calibration.calibration_error, 4))
    if outcome.shadow is not None and outcome.shadow.overall.mae is not None:
        metadata["shadow_version"] = str(outcome.shadow_version)
        metadata["shadow_mae"] = dg.MetadataValue.float(round(outcome.shadow.overall.mae, 4))
    return metadata
