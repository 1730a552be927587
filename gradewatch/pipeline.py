"""The lifecycle of a semester as plain functions over the database.

Each Dagster asset of ``gradewatch_assets`` is a thin shell over one function here: clean a
semester, measure its drift, predict it, evaluate it once grades are in, and decide whether to
retrain. Every function writes its own table in one transaction and returns an outcome with
the figures the asset shows as metadata and, where a rule applies, the check's
:class:`~gradewatch.monitoring.checks.Verdict`, whose alert it has already raised: whoever runs
a semester (Dagster, the demo, a benchmark) gets the same alerts. Nothing here imports Dagster.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from gradewatch import schema
from gradewatch.models.registry import LoadedModel, champion_record, load_champion, promote, register_model
from gradewatch.models.training import SearchConfig, TrainedModel, train_model
from gradewatch.monitoring.alerts import alert
from gradewatch.monitoring.checks import (
    Verdict,
    accuracy_verdict,
    drift_verdict,
    excluded_rows_verdict,
    grade_coverage_verdict,
)
from gradewatch.monitoring.drift import DriftConfig, DriftReport, compare
from gradewatch.monitoring.evaluation import Evaluation, ToleranceRule, evaluate
from gradewatch.quality.cleaning import CleaningReference, clean_semester
from gradewatch.quality.report import QualityReport
from gradewatch.semesters import Period
from gradewatch.settings import Settings
from gradewatch.storage.db import utcnow
from gradewatch.storage.features import (
    load_cleaned_features,
    load_semester_reports,
    replace_cleaned_features,
)
from gradewatch.storage.monitoring import (
    read_drift_metrics,
    read_performance,
    replace_drift_metrics,
    replace_performance,
)
from gradewatch.storage.predictions import load_latest_predictions, record_predictions
from gradewatch.storage.registry import get_version, read_reference_profile
from gradewatch.storage.semesters import SemesterStatus, semester_status, semester_statuses
from gradewatch.storage.training_sets import record_training_set

log = logging.getLogger(__name__)

MIN_IMPROVEMENT = 0.01  # a challenger must beat the champion's MAE by 1% to replace it


# --- cleaning -----------------------------------------------------------------------------------


@dataclass
class CleaningOutcome:
    report: QualityReport
    rows_written: int
    reference: str  # where the imputation values came from
    verdict: Verdict


def _cleaning_reference(loaded: LoadedModel | None) -> tuple[CleaningReference | None, str]:
    """The reference the model that will score the semester was trained with (the same one
    ``POST /predict`` cleans against), and where it came from in words."""
    if loaded is None:
        return None, "the semester itself (no model trained yet)"
    if loaded.cleaning_reference is None:
        return None, f"the semester itself (model {loaded.version} has no cleaning reference)"
    return loaded.cleaning_reference, f"the training data of model {loaded.version}"


def clean_semester_rows(engine: Engine, period: Period) -> CleaningOutcome:
    frame = load_semester_reports(engine, period)
    reference, source = _cleaning_reference(load_champion(engine))
    result = clean_semester(frame, reference)
    written = replace_cleaned_features(engine, period, result.frame)
    log.info("cleaned semester %s: %d rows in, %d excluded, %d imputed", period.key,
             result.report.rows_in, result.report.excluded, result.report.imputed,
             extra={"semester": period.key})
    verdict = excluded_rows_verdict(period.key, result.report.rows_in, result.report.excluded)
    verdict.alert_if_failed()
    return CleaningOutcome(result.report, written, source, verdict)


def _usable_rows(engine: Engine, period: Period) -> pd.DataFrame:
    cleaned = load_cleaned_features(engine, [period])
    return cleaned.loc[~cleaned["excluded"]]


# --- drift --------------------------------------------------------------------------------------


@dataclass
class DriftOutcome:
    report: DriftReport | None
    reference_version: str | None
    verdict: Verdict
    reason: str = ""

    @property
    def drifted(self) -> bool:
        return not self.verdict.passed


def measure_drift(engine: Engine, period: Period, config: DriftConfig | None = None) -> DriftOutcome:
    """Drift of a semester's cleaned features against the champion's training profile."""
    config = config or DriftConfig()
    record = champion_record(engine)
    if record is None:
        replace_drift_metrics(engine, period, [], None)
        return DriftOutcome(None, None, drift_verdict(period.key, None, []),
                            "no model trained yet: there is no reference to compare with")
    profile = read_reference_profile(engine, record.version)
    current = _usable_rows(engine, period)
    if not profile or len(current) < config.min_rows:
        replace_drift_metrics(engine, period, [], record.version)
        reason = "no reference profile" if not profile else f"only {len(current)} usable rows"
        return DriftOutcome(None, record.version, drift_verdict(period.key, record.version, []), reason)
    report = compare(profile, current, config)
    replace_drift_metrics(engine, period, report.feature_rows(), record.version)
    log.info("drift for %s against %s: %s", period.key, record.version,
             ", ".join(report.drifted_features) or "none", extra={"semester": period.key,
                                                                 "model_version": record.version})
    verdict = drift_verdict(period.key, record.version, report.drifted_features)
    verdict.alert_if_failed()
    return DriftOutcome(report, record.version, verdict)


# --- prediction ---------------------------------------------------------------------------------


@dataclass
class PredictionOutcome:
    model_version: str | None
    predicted: int = 0
    at_risk: int = 0
    reason: str = ""


def predict_semester(engine: Engine, period: Period, settings: Settings,
                     loaded: LoadedModel | None = None) -> PredictionOutcome:
    """Predict every usable student of ``period`` who has no final grade yet."""
    loaded = loaded or load_champion(engine)
    if loaded is None:
        return PredictionOutcome(None, reason="no model yet: predictions start after the first "
                                              "semester with final grades")
    rows = _usable_rows(engine, period)
    waiting = rows.loc[rows[schema.FINAL_GRADE].isna()].reset_index(drop=True)
    if waiting.empty:
        return PredictionOutcome(loaded.version, reason="every student already has a final grade")
    predictions = loaded.predict(waiting, settings.pass_mark)
    predictions[schema.USER_ID] = waiting[schema.USER_ID].to_numpy()
    record_predictions(engine, period, predictions, loaded.version, utcnow())
    at_risk = int(predictions["at_risk"].sum())
    log.info("predicted %d students of %s with %s; %d at risk", len(predictions), period.key,
             loaded.version, at_risk, extra={"semester": period.key, "model_version": loaded.version})
    return PredictionOutcome(loaded.version, len(predictions), at_risk)


# --- accuracy -----------------------------------------------------------------------------------


@dataclass
class PerformanceOutcome:
    evaluation: Evaluation | None
    model_version: str | None
    within_tolerance: bool | None
    grade_coverage: float
    verdict: Verdict
    validation_mae: float | None = None
    reason: str = ""


def evaluate_semester(engine: Engine, period: Period, settings: Settings) -> PerformanceOutcome:
    """Accuracy of the predictions made for ``period``, now that final grades are in."""
    coverage = semester_status(engine, period).grade_coverage
    frame = load_latest_predictions(engine, period)
    graded = frame.loc[frame[schema.FINAL_GRADE].notna()]
    if graded.empty:
        return PerformanceOutcome(None, None, None, coverage, accuracy_verdict(period.key, None, None),
                                  reason="no student has both a prediction and a final grade")
    version = str(graded["model_version"].mode().iloc[0])
    evaluation = evaluate(frame.loc[frame["model_version"] == version], settings.pass_mark)
    record = get_version(engine, version)
    validation_mae = float(record.metrics["cv_mae"]) if record and "cv_mae" in record.metrics else None
    within = (ToleranceRule.from_settings(settings).within(evaluation, validation_mae)
              if validation_mae is not None else None)
    replace_performance(engine, period, version, evaluation.to_record(), within)
    log.info("evaluated %s with %s: MAE %.2f on %d students (validation MAE %s)", period.key, version,
             evaluation.overall.mae or float("nan"), evaluation.n_students, validation_mae,
             extra={"semester": period.key, "model_version": version})
    verdict = accuracy_verdict(period.key, version, within, mae=evaluation.overall.mae,
                               validation_mae=validation_mae, tolerance=settings.accuracy_tolerance)
    verdict.alert_if_failed()
    return PerformanceOutcome(evaluation, version, within, coverage, verdict, validation_mae)


@dataclass(frozen=True)
class EvaluationDue:
    """A semester past its end plus the grace period, to evaluate with the grades that are in."""

    status: SemesterStatus
    verdict: Verdict  # whether enough final grades arrived (alert final_grades_missing if not)


def evaluations_due(engine: Engine, today: date, settings: Settings) -> list[EvaluationDue]:
    """Every semester whose end plus ``GRADEWATCH_GRADES_GRACE_DAYS`` has passed, with the
    verdict on its grade coverage against ``GRADEWATCH_MIN_GRADE_COVERAGE``."""
    grace = timedelta(days=settings.grades_grace_days)
    return [
        EvaluationDue(status, grade_coverage_verdict(status.period.key, status.period.end.isoformat(),
                                                     status.rows, status.grade_coverage,
                                                     settings.min_grade_coverage))
        for status in semester_statuses(engine) if status.period.end + grace <= today
    ]


# --- training and promotion ---------------------------------------------------------------------


def graded_history(engine: Engine) -> pd.DataFrame:
    """Every usable cleaned row that has a final grade, over all semesters."""
    cleaned = load_cleaned_features(engine)
    return cleaned.loc[~cleaned["excluded"] & cleaned[schema.FINAL_GRADE].notna()].reset_index(drop=True)


def semesters_of(frame: pd.DataFrame) -> list[Period]:
    pairs = frame[[schema.START, schema.END]].drop_duplicates().itertuples(index=False)
    return sorted(Period(start, end) for start, end in pairs)


@dataclass(frozen=True)
class TrainingSelection:
    semesters: list[Period]
    rows: int
    content_sha256: str  # changes whenever any graded row that training would read changes
    new: bool = False  # differs from the previous selection


_TRAINING_COLUMNS = [schema.USER_ID, schema.START, schema.END, *schema.FEATURES, schema.FINAL_GRADE]


def _content_sha256(history: pd.DataFrame) -> str:
    values = pd.util.hash_pandas_object(history[_TRAINING_COLUMNS].astype(object), index=False)
    return hashlib.sha256(values.to_numpy().tobytes()).hexdigest()


def select_training_set(engine: Engine) -> TrainingSelection:
    """The graded history the next challenger trains on; stored in ``training_sets`` when it changed."""
    history = graded_history(engine)
    semesters = semesters_of(history) if not history.empty else []
    digest = _content_sha256(history)
    new = record_training_set(engine, [s.key for s in semesters], len(history), digest)
    return TrainingSelection(semesters, len(history), digest, new)


QUICK_SEARCH = SearchConfig(families=("ridge", "hist_gradient_boosting"), n_iter=1, cv=3)


def search_config(settings: Settings) -> SearchConfig:
    return QUICK_SEARCH if settings.training_profile == "quick" else SearchConfig()


@dataclass
class RetrainDecision:
    action: str  # first_model | promoted | kept | not_needed | no_data
    reason: str
    champion_before: str | None = None
    champion_after: str | None = None
    challenger: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def _retraining_reasons(engine: Engine, newest: Period, champion_version: str) -> list[str]:
    reasons = [f"drift in {row['feature']}" for row in read_drift_metrics(engine, newest) if row["drifted"]]
    for row in read_performance(engine, newest):
        if row["model_version"] == champion_version and row["within_tolerance"] is False:
            reasons.append(f"accuracy below tolerance (MAE {row['mae']:.2f})")
    return reasons


def _mae(model: TrainedModel, frame: pd.DataFrame) -> float:
    predicted = model.predict_grades(frame)
    return float((frame[schema.FINAL_GRADE].to_numpy() - predicted).__abs__().mean())


def retraining_decision(engine: Engine, settings: Settings, *, config: SearchConfig | None = None,
                        seed: int = 0, force: bool = False) -> RetrainDecision:
    """Train a challenger when drift or degraded accuracy call for it, and promote it only if
    it beats the champion on the newest graded semester. Every decision is logged and alerted.
    """
    config = config or search_config(settings)
    history = graded_history(engine)
    if history.empty:
        return _decided(RetrainDecision("no_data", "no graded semester yet"))
    semesters = semesters_of(history)
    training_set = {"training_set_sha256": _content_sha256(history), "rows": len(history)}
    current = champion_record(engine)
    if current is None:
        trained = train_model(history, config=config, seed=seed)
        version = register_model(engine, trained, semesters)
        promote(engine, version)
        return _decided(RetrainDecision(
            "first_model", f"first model, trained on {len(semesters)} graded semester(s)",
            None, version, version, {"cv_mae": trained.metrics["cv_mae"], **training_set}))
    newest = semesters[-1]
    reasons = _retraining_reasons(engine, newest, current.version)
    if not reasons and not force:
        return _decided(RetrainDecision(
            "not_needed", f"no drift and accuracy within tolerance on {newest.key}",
            current.version, current.version, figures=training_set))
    is_newest = (history[schema.START] == newest.start) & (history[schema.END] == newest.end)
    holdout, earlier = history.loc[is_newest], history.loc[~is_newest]
    loaded = load_champion(engine)
    champion_mae = _mae(loaded.model, holdout) if loaded else float("inf")
    if earlier.empty:  # a single graded semester: the challenger's out-of-fold error stands in
        candidate = train_model(history, config=config, seed=seed)
        challenger_mae = float(candidate.metrics["cv_mae"])
    else:
        candidate = train_model(earlier, config=config, seed=seed)
        challenger_mae = _mae(candidate, holdout)
    figures = {"newest_semester": newest.key, "champion_mae": round(champion_mae, 3),
               "challenger_mae": round(challenger_mae, 3), "holdout_rows": len(holdout),
               "triggers": reasons or ["forced"], **training_set}
    if challenger_mae < champion_mae * (1 - MIN_IMPROVEMENT):
        final = candidate if earlier.empty else train_model(history, config=config, seed=seed)
        version = register_model(engine, final, semesters)
        promote(engine, version)
        return _decided(RetrainDecision(
            "promoted", f"challenger MAE {challenger_mae:.2f} beats champion MAE {champion_mae:.2f} "
                        f"on {newest.key} ({'; '.join(figures['triggers'])})",
            current.version, version, version, figures))
    version = register_model(engine, candidate, semesters_of(earlier) or semesters)
    return _decided(RetrainDecision(
        "kept", f"challenger MAE {challenger_mae:.2f} does not beat champion MAE {champion_mae:.2f} "
                f"on {newest.key} ({'; '.join(figures['triggers'])})",
        current.version, current.version, version, figures))


def _decided(decision: RetrainDecision) -> RetrainDecision:
    context = {"model_version": decision.champion_after, "decision": decision.action,
               **{k: v for k, v in decision.figures.items() if k != "triggers"}}
    log.info("retraining decision: %s: %s", decision.action, decision.reason, extra=context)
    if decision.action in ("first_model", "promoted"):
        alert("model_promoted", "warning", f"model {decision.champion_after} is the new champion: "
              f"{decision.reason}", semester=decision.figures.get("newest_semester"), **context)
    elif decision.action == "kept":
        alert("model_kept", "warning", f"champion {decision.champion_after} kept: {decision.reason}",
              semester=decision.figures.get("newest_semester"), **context)
    return decision
