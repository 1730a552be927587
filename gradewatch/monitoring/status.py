"""``gradewatch status``: the platform on one screen (SPEC section 7), as data and as text.

:func:`platform_status` gathers, from the application database only: every semester (students,
graded share, last prediction, students at risk in its report), the champion and the shadow
model (the newest kept challenger) with their latest measured accuracy and label-free estimate,
and the recent alerts. The Dagster shell adds the last runs (``gradewatch_assets``): the core
knows nothing of Dagster. :func:`render_status` prints it; ``--json`` prints the dict.
Counts and names only: no student's row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from gradewatch.storage.alerts import list_alerts
from gradewatch.storage.db import as_utc
from gradewatch.storage.operations import ModelSummary, model_summaries
from gradewatch.storage.overview import semester_overview

RECENT_ALERT_DAYS = 30  # alerts carry no "resolved" state: the recent ones are the open ones
MAX_ALERTS = 10


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _model(summary: ModelSummary | None, role: str) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "role": role, "version": summary.version, "algorithm": summary.algorithm,
        "trained_at": _iso(summary.trained_at), "promoted_at": _iso(summary.promoted_at),
        "validation_mae": summary.validation_mae,
        "last_evaluation": summary.last_evaluation, "last_estimate": summary.last_estimate,
    }  # fmt: skip


def platform_status(engine: Engine, now: datetime) -> dict[str, Any]:
    """The semesters, the champion and shadow models, and the recent alerts (no runs: see module)."""
    semesters = [
        {"semester": s.period.key, "students": s.rows, "graded": s.final_grades,
         "graded_share": s.grade_coverage, "last_prediction": _iso(s.predicted_at),
         "students_in_report": s.report_rows, "at_risk": s.at_risk}
        for s in semester_overview(engine)
    ]  # fmt: skip
    models = model_summaries(engine)
    champion = next((m for m in models if m.status == "champion"), None)
    shadow = next((m for m in models if m.status == "challenger"), None)  # newest first
    since = now - timedelta(days=RECENT_ALERT_DAYS)
    alerts = [
        {"time": _iso(a.created_at), "kind": a.kind, "severity": a.severity, "semester": a.semester,
         "message": a.message}
        for a in list_alerts(engine, limit=MAX_ALERTS)
        if a.created_at is None or as_utc(a.created_at) >= since
    ]  # fmt: skip
    return {"semesters": semesters, "champion": _model(champion, "champion"), "shadow": _model(shadow, "shadow"),
            "alerts": alerts}


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _model_line(model: dict[str, Any] | None, role: str) -> list[str]:
    if model is None:
        hint = ("none yet: the first model is trained once a semester's final grades are processed"
                if role == "champion" else "none (no challenger kept beside the champion)")
        return [f"  {role:<9} {hint}"]
    lines = [f"  {role:<9} {model['version']} ({model['algorithm']}), validation MAE "
             f"{_number(model['validation_mae'])}, trained {model['trained_at']}"]
    measured = model["last_evaluation"]
    if measured is not None:
        verdict = {True: "within tolerance", False: "BELOW tolerance", None: "no tolerance rule"}[
            measured["within_tolerance"]]
        lines.append(f"            measured MAE {_number(measured['mae'])} on {measured['semester']} "
                     f"({measured['n_students']} students, {verdict})")
    estimate = model["last_estimate"]
    if estimate is not None:
        realised = estimate["realised_mae"]
        lines.append(f"            estimated MAE {_number(estimate['estimated_mae'])} on {estimate['semester']}"
                     + (f", realised {_number(realised)}" if realised is not None else " (grades not in yet)"))
    return lines


def render_status(status: dict[str, Any]) -> str:
    """The one screen of ``gradewatch status``."""
    out = ["Semesters"]
    if not status["semesters"]:
        out.append("  none yet: upload a semester's CSV (POST /update-csv, the upload page or the inbox)")
    else:
        out.append(f"  {'semester':<23} {'students':>8} {'graded':>7} {'at risk':>8}  last prediction")
        for s in status["semesters"]:
            share = "-" if s["graded_share"] is None else f"{s['graded_share']:.0%}"
            out.append(f"  {s['semester']:<23} {s['students']:>8} {share:>7} {s['at_risk']:>8}  "
                       f"{s['last_prediction'] or 'never'}")
    out += ["", "Models", *_model_line(status["champion"], "champion"), *_model_line(status["shadow"], "shadow")]
    runs = status.get("runs")
    out += ["", "Last runs"]
    if runs is None:
        out.append("  not available (no Dagster instance at DAGSTER_HOME)")
    elif not runs:
        out.append("  none yet")
    for run in runs or []:
        out.append(f"  {run['started'] or 'queued':<25} {run['status']:<9} {run['job']:<16} "
                   f"{run['partition'] or '-'}")
    out += ["", f"Alerts (last {RECENT_ALERT_DAYS} days)"]
    if not status["alerts"]:
        out.append("  none")
    for a in status["alerts"]:
        out.append(f"  {a['time']} {a['severity']:<7} {a['kind']:<22} {a['semester'] or '-'}: {a['message']}")
    return "\n".join(out)
