"""The lifecycle of a semester as plain functions over the database.

Each Dagster asset of ``gradewatch_assets`` is a thin shell over one function here: clean a
semester, measure its drift, predict it, evaluate it once grades are in, and decide whether to
retrain. Every function writes its own table in one transaction and returns an outcome with
the figures the asset shows as metadata and, where a rule applies, the check's
:class:`~gradewatch.monitoring.checks.Verdict`, whose alert it has already raised: whoever runs
a semester (Dagster, the demo, a benchmark) gets the same alerts. Nothing here imports Dagster.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from gradewatch import schema
from gradewatch.models.explain import explain_model
from gradewatch.models.registry import LoadedModel, champion_record, load_champion, load_version
from gradewatch.monitoring import summaries
from gradewatch.monitoring.checks import (
    Verdict,
    accuracy_measured_verdict,
    accuracy_verdict,
    drift_verdict,
    excluded_rows_verdict,
    grade_coverage_verdict,
)
from gradewatch.monitoring.drift import DriftConfig, DriftReport, compare
from gradewatch.monitoring.estimate import PerformanceEstimate, estimate_mae
from gradewatch.monitoring.evaluation import Evaluation, ToleranceRule, evaluate
from gradewatch.monitoring.fairness import fairness_verdict, no_fairness_verdict
from gradewatch.monitoring.trust_checks import estimate_check, fairness_check
from gradewatch.quality.cleaning import CleaningReference, clean_semester
from gradewatch.quality.report import QualityReport
from gradewatch.reports import tier_counts
from gradewatch.retraining import (
    RetrainDecision,
    content_sha256,
    graded_history,
    retraining_decision,
    search_config,
    semesters_of,
    train_candidate,
)
from gradewatch.semesters import Period
from gradewatch.settings import Settings
from gradewatch.storage.db import is_postgres, utcnow
from gradewatch.storage.estimates import record_realised_mae, replace_estimate
from gradewatch.storage.features import (
    load_semester_reports,
    load_usable_rows,
    replace_cleaned_features,
)
from gradewatch.storage.monitoring import replace_drift_metrics, replace_performance
from gradewatch.storage.operations import performance_estimate
from gradewatch.storage.predictions import count_measurable, load_latest_predictions, record_predictions
from gradewatch.storage.registry import get_version, read_reference_profile, shadow_record
from gradewatch.storage.semesters import SemesterStatus, semester_status, semester_statuses
from gradewatch.storage.training_sets import record_training_set

log = logging.getLogger(__name__)

__all__ = [  # the retraining decision lives in gradewatch/retraining.py; the shells find it here
    "RetrainDecision", "graded_history", "retraining_decision", "search_config", "semesters_of",
    "train_candidate",
]


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
    report = result.report
    summaries.emit(summaries.CLEANING, summaries.cleaning_summary(
        semester=period.key, rows_in=report.rows_in, rows_out=report.rows_out, imputed=report.imputed,
        excluded=report.excluded, rules=report.rules))
    verdict = excluded_rows_verdict(period.key, result.report.rows_in, result.report.excluded)
    verdict.alert_if_failed()
    return CleaningOutcome(result.report, written, source, verdict)


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
        _drift_summary(period, None, [])
        return DriftOutcome(None, None, drift_verdict(period.key, None, []),
                            "no model trained yet: there is no reference to compare with")
    profile = read_reference_profile(engine, record.version)
    current = load_usable_rows(engine, period)
    if not profile or len(current) < config.min_rows:
        replace_drift_metrics(engine, period, [], record.version)
        reason = "no reference profile" if not profile else f"only {len(current)} usable rows"
        _drift_summary(period, record.version, [])
        return DriftOutcome(None, record.version, drift_verdict(period.key, record.version, []), reason)
    report = compare(profile, current, config)
    replace_drift_metrics(engine, period, report.feature_rows(), record.version)
    log.info("drift for %s against %s: %s", period.key, record.version,
             ", ".join(report.drifted_features) or "none", extra={"semester": period.key,
                                                                 "model_version": record.version})
    _drift_summary(period, record.version, report.features)
    verdict = drift_verdict(period.key, record.version, report.drifted_features)
    verdict.alert_if_failed()
    return DriftOutcome(report, record.version, verdict)


def _drift_summary(period: Period, reference_version: str | None, features: list[Any]) -> None:
    summaries.emit(summaries.DRIFT, summaries.drift_summary(
        semester=period.key, reference_version=reference_version, features=features))


# --- prediction ---------------------------------------------------------------------------------


@dataclass
class PredictionOutcome:
    model_version: str | None
    predicted: int = 0
    at_risk: int = 0
    reason: str = ""
    shadow_version: str | None = None  # the kept challenger that scored the semester beside it


def predict_semester(engine: Engine, period: Period, settings: Settings,
                     loaded: LoadedModel | None = None, *, with_reasons: bool = True) -> PredictionOutcome:
    """Predict every usable student of ``period`` who has no final grade yet."""
    loaded = loaded or load_champion(engine)
    if loaded is None:
        return PredictionOutcome(None, reason="no model yet: predictions start after the first "
                                              "semester with final grades")
    waiting = load_usable_rows(engine, period, with_user_id=True, waiting_only=True)
    if waiting.empty:
        return PredictionOutcome(loaded.version, reason="every student already has a final grade")
    predictions = loaded.predict(waiting, settings.pass_mark)
    predictions[schema.USER_ID] = waiting[schema.USER_ID].to_numpy()

    def reasons() -> list[str]:
        return explain_model(loaded.model, waiting, excluded=settings.model_excluded_features,
                             baseline=predictions["predicted_grade"].to_numpy()).as_json()

    # On PostgreSQL the shadow scores the students and stores its rows on a connection of its
    # own while the champion's are recorded: the server writes both at once, on two cores (at
    # 1M students the shadow added 5.8 s to a 13.7 s step when it followed the champion). Its
    # rows are its own transaction either way; they never reach a report.
    shadow = shadow_record(engine)
    shadow_version = shadow.version if shadow else None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow") as pool:
        # A copy of its own: pandas may consolidate a frame it reads, and the champion reads this one.
        beside = (pool.submit(_predict_shadow, engine, period, waiting.copy(), settings, shadow_version)
                  if shadow_version and is_postgres(engine) else None)
        # On PostgreSQL the reasons are computed while the server updates the reports. Without
        # them only to measure what they cost (bench/reasons_cost.py).
        record_predictions(engine, period, predictions, loaded.version, utcnow(),
                           reasons=reasons if with_reasons else None)
        if beside:
            beside.result()
        elif shadow_version:
            _predict_shadow(engine, period, waiting, settings, shadow_version)
    at_risk = int(predictions["at_risk"].sum())
    tiers = tier_counts(predictions["probability_below_pass"], settings.risk_tiers)
    summaries.emit(summaries.PREDICTION, summaries.prediction_summary(
        semester=period.key, model_version=loaded.version, role="champion", predicted=len(predictions),
        at_risk=at_risk, tiers=tiers))
    log.info("predicted %d students of %s with %s; %d at risk", len(predictions), period.key,
             loaded.version, at_risk, extra={"semester": period.key, "model_version": loaded.version})
    return PredictionOutcome(loaded.version, len(predictions), at_risk, shadow_version=shadow_version)


def _predict_shadow(engine: Engine, period: Period, waiting: pd.DataFrame, settings: Settings, version: str) -> None:
    """The shadow ``version`` scores the same students beside the champion (history rows only,
    never a report), so that its accuracy is measured when the grades arrive."""
    shadow = load_version(engine, version)
    predictions = shadow.predict(waiting, settings.pass_mark)
    predictions[schema.USER_ID] = waiting[schema.USER_ID].to_numpy()
    record_predictions(engine, period, predictions, shadow.version, utcnow(), role="shadow")


# --- accuracy before the grades -----------------------------------------------------------------


@dataclass
class EstimateOutcome:
    model_version: str | None
    estimate: PerformanceEstimate | None
    verdict: Verdict
    validation_mae: float | None = None
    reason: str = ""


def estimate_semester(engine: Engine, period: Period, settings: Settings) -> EstimateOutcome:
    """The champion's expected MAE on the students still without a grade (direct loss
    estimation), judged by the tolerance rule the realised MAE will be held to."""
    loaded = load_champion(engine)
    if loaded is None:
        return EstimateOutcome(None, None, estimate_check(period.key, "", None, None, validation_mae=None,
                                                          tolerance=settings.accuracy_tolerance),
                               reason="no model yet")
    waiting = load_usable_rows(engine, period, waiting_only=True)
    estimate = estimate_mae(loaded.model, waiting)
    validation_mae = loaded.model.metrics.get("cv_mae")
    within = None
    if estimate is not None:
        replace_estimate(engine, period, loaded.version, method=estimate.method, n_students=estimate.n_students,
                         estimated_mae=estimate.estimated_mae, lower=estimate.lower, upper=estimate.upper)
        if validation_mae is not None:
            within = ToleranceRule.from_settings(settings).allows(estimate.estimated_mae, estimate.n_students,
                                                                  float(validation_mae))
    verdict = estimate_check(period.key, loaded.version, estimate, within, validation_mae=validation_mae,
                             tolerance=settings.accuracy_tolerance)
    verdict.alert_if_failed()
    reason = "" if estimate else ("no student without a final grade" if waiting.empty
                                  else f"model {loaded.version} has no loss model (trained before estimates)")
    return EstimateOutcome(loaded.version, estimate, verdict, validation_mae, reason)


# --- accuracy -----------------------------------------------------------------------------------


@dataclass
class PerformanceOutcome:
    evaluation: Evaluation | None
    model_version: str | None
    within_tolerance: bool | None
    grade_coverage: float
    verdict: Verdict
    measured: Verdict  # whether the evaluation measured the students it could (a blocking check)
    fairness: Verdict  # at-risk recall gap between genders (alert fairness_gap)
    validation_mae: float | None = None
    reason: str = ""
    shadow: Evaluation | None = None  # the shadow's accuracy on the same semester
    shadow_version: str | None = None


def evaluate_semester(engine: Engine, period: Period, settings: Settings) -> PerformanceOutcome:
    """Accuracy of the predictions made for ``period``, now that final grades are in."""
    coverage = semester_status(engine, period).grade_coverage
    frame = load_latest_predictions(engine, period)
    graded = frame.loc[frame[schema.FINAL_GRADE].notna()]
    measured = accuracy_measured_verdict(period.key, len(graded), count_measurable(engine, period))
    measured.alert_if_failed()
    if graded.empty:
        return PerformanceOutcome(None, None, None, coverage, accuracy_verdict(period.key, None, None), measured,
                                  fairness_check(period.key, None, no_fairness_verdict(settings)),
                                  reason=measured.message or "no student has both a prediction and a final grade")
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
    overall = evaluation.overall
    summaries.emit(summaries.PERFORMANCE, summaries.performance_summary(
        semester=period.key, model_version=version, students=evaluation.n_students,
        metrics={name: getattr(overall, name, None) for name in summaries.ACCURACY_FIELDS},
        within_tolerance=within, validation_mae=validation_mae,
        estimate=performance_estimate(engine, period, version)))
    verdict = accuracy_verdict(period.key, version, within, mae=evaluation.overall.mae,
                               validation_mae=validation_mae, tolerance=settings.accuracy_tolerance)
    verdict.alert_if_failed()
    if evaluation.overall.mae is not None:
        record_realised_mae(engine, period, version, evaluation.overall.mae)
    fairness = fairness_check(period.key, version, fairness_verdict(evaluation, settings.fairness_max_gap))
    fairness.alert_if_failed()
    shadow_version, shadow = _evaluate_shadow(engine, period, settings)
    return PerformanceOutcome(evaluation, version, within, coverage, verdict, measured, fairness,
                              validation_mae,
                              shadow=shadow, shadow_version=shadow_version)


def _evaluate_shadow(engine: Engine, period: Period, settings: Settings) -> tuple[str | None, Evaluation | None]:
    frame = load_latest_predictions(engine, period, role="shadow")
    graded = frame.loc[frame[schema.FINAL_GRADE].notna()]
    if graded.empty:
        return None, None
    version = str(graded["model_version"].mode().iloc[0])
    evaluation = evaluate(frame.loc[frame["model_version"] == version], settings.pass_mark)
    replace_performance(engine, period, version, evaluation.to_record(), None, role="shadow")
    return version, evaluation


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


# --- training and promotion: gradewatch/retraining.py ------------------------------------------


@dataclass(frozen=True)
class TrainingSelection:
    semesters: list[Period]
    rows: int
    content_sha256: str  # changes whenever any graded row that training would read changes
    new: bool = False  # differs from the previous selection


def select_training_set(engine: Engine) -> TrainingSelection:
    """The graded history the next challenger trains on; stored in ``training_sets`` when it changed."""
    history = graded_history(engine)
    semesters = semesters_of(history) if not history.empty else []
    digest = content_sha256(history)
    new = record_training_set(engine, [s.key for s in semesters], len(history), digest)
    return TrainingSelection(semesters, len(history), digest, new)


