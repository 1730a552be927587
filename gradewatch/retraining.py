"""The retraining decision (issue 14, items 2 and 3): when to train a challenger, and when a
challenger may replace the champion.

When to train. A challenger is trained when the newest graded semester shows drift or an
accuracy below tolerance (as before), and also when the graded history has grown by
``GRADEWATCH_RETRAIN_GROWTH`` (50%) since the champion was trained: a champion trained on one
small semester must be confronted with the history that accumulated since. At most ONE
challenger is trained per (newest graded semester, champion, data version): the key is stored
in the challenger's metrics, and a later run on unchanged evidence (drift persists, the
evaluation is re-run) decides ``already_decided`` without training.

When to promote. Only on evidence from students neither model was trained on:

* the fresh challenger is trained on the graded history without the newest semester and compared
  with the champion on that semester (when the champion was not trained on it either);
* the shadow (the latest kept challenger, which has scored every semester beside the champion)
  is compared on every graded semester neither it nor the champion was trained on.

Each comparison is paired (:mod:`gradewatch.monitoring.comparison`): promote only when the
challenger is better with 95% confidence and by at least 1%, and never a challenger that does
not beat the naive baselines (:mod:`gradewatch.models.baselines`). A kept fresh challenger is
registered and becomes the shadow. Every decision is logged and alerted, with the test, the
interval and the number of students compared.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gradewatch import schema
from gradewatch.models.baselines import Informativeness, assess
from gradewatch.models.features import DEFAULT_FEATURE_SPEC, model_feature_spec
from gradewatch.models.registry import (
    champion_record,
    list_versions,
    load_champion,
    load_version,
    promote,
    register_model,
)
from gradewatch.models.training import SearchConfig, TrainedModel, train_model
from gradewatch.monitoring.alerts import alert
from gradewatch.monitoring.checks import Verdict
from gradewatch.monitoring.comparison import PairedComparison, paired_comparison
from gradewatch.monitoring.trust_checks import informative_verdict
from gradewatch.semesters import Period
from gradewatch.settings import Settings
from gradewatch.storage.features import load_graded_history
from gradewatch.storage.monitoring import read_drift_metrics, read_performance
from gradewatch.storage.registry import VersionRecord, get_version, shadow_record

log = logging.getLogger(__name__)

DECISION_KEY = "decision_key"  # in a challenger's metrics: the evidence it was trained on
QUICK_SEARCH = SearchConfig(families=("ridge", "hist_gradient_boosting"), n_iter=1, cv=3)


def graded_history(engine: Engine) -> pd.DataFrame:
    """Every usable cleaned row that has a final grade, over all semesters (filtered in the database)."""
    return load_graded_history(engine)


def semesters_of(frame: pd.DataFrame) -> list[Period]:
    pairs = frame[[schema.START, schema.END]].drop_duplicates().itertuples(index=False)
    return sorted(Period(start, end) for start, end in pairs)


def search_config(settings: Settings) -> SearchConfig:
    return QUICK_SEARCH if settings.training_profile == "quick" else SearchConfig()


def train_candidate(frame: pd.DataFrame, settings: Settings, config: SearchConfig, seed: int) -> TrainedModel:
    """A model that never reads the excluded indicators (``GRADEWATCH_MODEL_EXCLUDED_FEATURES``);
    its drift profile still covers them, for audits."""
    return train_model(frame, model_feature_spec(settings.model_excluded_features), config=config, seed=seed,
                       profile_spec=DEFAULT_FEATURE_SPEC)


_TRAINING_COLUMNS = [schema.USER_ID, schema.START, schema.END, *schema.FEATURES, schema.FINAL_GRADE]


def content_sha256(history: pd.DataFrame) -> str:
    """The graded history's data version: changes whenever any graded row training reads changes."""
    values = pd.util.hash_pandas_object(history[_TRAINING_COLUMNS].astype(object), index=False)
    return hashlib.sha256(values.to_numpy().tobytes()).hexdigest()


@dataclass
class RetrainDecision:
    action: str  # first_model | promoted | kept | not_needed | already_decided | no_data
    reason: str
    champion_before: str | None = None
    champion_after: str | None = None
    challenger: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    # The new champion against the naive baselines (set when the champion changed).
    informativeness: Informativeness | None = None
    verdict: Verdict | None = None  # set by _decided: the champion against the baselines


def _accuracy(engine: Engine, newest: Period, champion: VersionRecord) -> tuple[bool, str]:
    """Is the champion's accuracy on ``newest`` below tolerance, and what is known of it in
    words: "within tolerance" only with a performance row that says so."""
    rows = [row for row in read_performance(engine, newest) if row["model_version"] == champion.version]
    if not rows:
        return False, f"accuracy of {champion.version} not measured on {newest.key} (no performance row)"
    if rows[-1]["within_tolerance"] is False:
        return True, f"accuracy below tolerance (MAE {rows[-1]['mae']:.2f})"
    if rows[-1]["within_tolerance"] is None:
        return False, f"accuracy on {newest.key} measured without a verdict (no validation MAE to compare with)"
    return False, f"accuracy within tolerance on {newest.key}"


def _triggers(engine: Engine, newest: Period, champion: VersionRecord, graded_rows: int,
              settings: Settings) -> list[str]:
    reasons = [f"drift in {row['feature']}" for row in read_drift_metrics(engine, newest) if row["drifted"]]
    degraded, accuracy = _accuracy(engine, newest, champion)
    if degraded:
        reasons.append(accuracy)
    trained_on = champion.metrics.get("n_train")
    if trained_on and graded_rows >= (1 + settings.retrain_growth) * trained_on:
        reasons.append(f"graded history grew from {trained_on} to {graded_rows} students "
                       f"(at least {settings.retrain_growth:.0%})")
    return reasons


def _rows_of(history: pd.DataFrame, semesters: Sequence[Period]) -> pd.DataFrame:
    keys = {s.key for s in semesters}
    mask = [Period(a, b).key in keys for a, b in zip(history[schema.START], history[schema.END], strict=True)]
    return history.loc[np.asarray(mask, dtype=bool)]


def _compare(champion: TrainedModel, challenger: TrainedModel, rows: pd.DataFrame,
             semesters: Sequence[Period], seed: int) -> PairedComparison:
    truth = rows[schema.FINAL_GRADE].to_numpy(dtype="float64")
    return paired_comparison(truth - champion.predict_grades(rows), truth - challenger.predict_grades(rows),
                             [s.key for s in semesters], seed=seed)


def _unseen(semesters: Sequence[Period], *records: VersionRecord | None) -> list[Period]:
    seen = {key for record in records if record is not None for key in record.training_semesters}
    return [s for s in semesters if s.key not in seen]


def retraining_decision(engine: Engine, settings: Settings, *, config: SearchConfig | None = None,
                        seed: int = 0, force: bool = False) -> RetrainDecision:
    """Decide, log and alert: first model, promotion, kept challenger, or nothing to do."""
    history = graded_history(engine)
    if history.empty:
        return _decided(engine, RetrainDecision("no_data", "no graded semester yet"), settings)
    training_set = {"training_set_sha256": content_sha256(history), "rows": len(history)}
    decision = _decide(engine, settings, config or search_config(settings), seed, force, history, training_set)
    decision.figures = {**training_set, **decision.figures}  # the data the decision was made on
    return decision


def _decide(engine: Engine, settings: Settings, config: SearchConfig, seed: int, force: bool,
            history: pd.DataFrame, training_set: dict[str, Any]) -> RetrainDecision:
    semesters = semesters_of(history)
    current = champion_record(engine)
    if current is None:
        trained = train_candidate(history, settings, config, seed)
        version = register_model(engine, trained, semesters)
        promote(engine, version)
        verdict = assess(trained.metrics, settings.baseline_min_gain)
        return _decided(engine, RetrainDecision(
            "first_model", f"first model, trained on {len(semesters)} graded semester(s)", None, version, version,
            {"cv_mae": trained.metrics["cv_mae"], "rows": len(history), "informative": verdict.informative,
             "baselines": verdict.to_dict()}, verdict), settings)
    champion = load_champion(engine)
    assert champion is not None  # a champion record exists
    newest = semesters[-1]
    shadow = _shadow_decision(engine, settings, history, semesters, current, champion.model, seed)
    if shadow is not None:
        return _decided(engine, shadow, settings)
    triggers = _triggers(engine, newest, current, len(history), settings) or (["forced"] if force else [])
    if not triggers:
        accuracy = _accuracy(engine, newest, current)[1]
        return _decided(engine, RetrainDecision("not_needed", f"no drift on {newest.key}; {accuracy}; "
                                        "not enough new graded history", current.version, current.version),
                        settings)
    key = f"{newest.key}|{current.version}|{training_set['training_set_sha256'][:16]}"
    earlier = next((v.version for v in list_versions(engine) if v.metrics.get(DECISION_KEY) == key), None)
    if earlier is not None:
        return _decided(engine, RetrainDecision(
            "already_decided", f"challenger {earlier} was already trained on this evidence ({newest.key}, champion "
                               f"{current.version}, unchanged graded data)", current.version, current.version,
            earlier, {"newest_semester": newest.key, "triggers": triggers}), settings)
    return _decided(engine, _fresh_challenger(engine, settings, config, seed, history, semesters, current,
                                      champion.model, triggers, key), settings)


def _shadow_decision(engine: Engine, settings: Settings, history: pd.DataFrame, semesters: list[Period],
                     current: VersionRecord, champion: TrainedModel, seed: int) -> RetrainDecision | None:
    """Promote the shadow when its evidence (graded semesters neither model was trained on) shows
    it better; None to go on with the ordinary decision."""
    record = shadow_record(engine)
    if record is None:
        return None
    unseen = _unseen(semesters, current, record)
    if not unseen:
        return None
    shadow = load_version(engine, record.version).model
    comparison = _compare(champion, shadow, _rows_of(history, unseen), unseen, seed)
    informative = assess(shadow.metrics, settings.baseline_min_gain)
    if not (comparison.challenger_better and informative.informative is not False):
        log.info("shadow %s not promoted: %s", record.version, comparison.describe(),
                 extra={"model_version": record.version})
        return None
    promote(engine, record.version)
    reason = f"shadow {record.version} beats champion {current.version} {comparison.describe()}"
    return RetrainDecision("promoted", reason, current.version, record.version, record.version,
                           {"newest_semester": semesters[-1].key, "comparison": comparison.to_dict(),
                            "informative": informative.informative, "evidence": "shadow"}, informative)


def _fresh_challenger(engine: Engine, settings: Settings, config: SearchConfig, seed: int, history: pd.DataFrame,
                      semesters: list[Period], current: VersionRecord, champion: TrainedModel,
                      triggers: list[str], key: str) -> RetrainDecision:
    newest = semesters[-1]
    figures: dict[str, Any] = {"newest_semester": newest.key, "triggers": triggers}
    training = semesters[:-1] or semesters
    candidate = train_candidate(_rows_of(history, training), settings, config, seed)
    candidate.metrics[DECISION_KEY] = key
    informative = assess(candidate.metrics, settings.baseline_min_gain)
    figures["informative"] = informative.informative
    unseen = _unseen([newest], current) if len(semesters) > 1 else []
    if unseen:
        comparison = _compare(champion, candidate, _rows_of(history, unseen), unseen, seed)
        figures["comparison"] = comparison.to_dict()
        evidence = comparison.describe()
        better = comparison.challenger_better
    else:
        evidence = f"no graded semester that neither model was trained on (newest: {newest.key})"
        better = False
    version = register_model(engine, candidate, training)
    if better and informative.informative is not False:
        promote(engine, version)
        return RetrainDecision("promoted", f"challenger {version} beats champion {current.version} {evidence} "
                               f"({'; '.join(triggers)})", current.version, version, version, figures, informative)
    why = ("it does not beat the naive baselines" if informative.informative is False and better
           else f"it is not better with 95% confidence and by at least 1%: {evidence}")
    return RetrainDecision("kept", f"champion {current.version} kept; challenger {version} becomes the shadow, "
                           f"{why} ({'; '.join(triggers)})", current.version, current.version, version, figures)


def _decided(engine: Engine, decision: RetrainDecision, settings: Settings) -> RetrainDecision:
    comparison = decision.figures.get("comparison") or {}
    context = {"model_version": decision.champion_after, "decision": decision.action,
               "challenger": decision.challenger, "test": comparison.get("test"),
               "interval": comparison.get("interval"), "students_compared": comparison.get("n_students"),
               "semesters_compared": comparison.get("semesters")}
    semester = decision.figures.get("newest_semester")
    log.info("retraining decision: %s: %s", decision.action, decision.reason, extra=context)
    if decision.action in ("first_model", "promoted"):
        alert("model_promoted", "warning", f"model {decision.champion_after} is the new champion: "
              f"{decision.reason}", semester=semester, **context)
    elif decision.action == "kept":
        alert("model_kept", "warning", decision.reason, semester=semester, **context)
    # Every decision reports the check on the champion; it alerts only when the champion changed.
    verdict = decision.informativeness or _champion_informativeness(engine, decision.champion_after, settings)
    decision.verdict = informative_verdict(str(decision.champion_after), verdict, semester=semester)
    if decision.informativeness is not None:
        decision.verdict.alert_if_failed()
    return decision


def _champion_informativeness(engine: Engine, version: str | None, settings: Settings) -> Informativeness:
    record = get_version(engine, version) if version else None
    return assess(record.metrics if record else {}, settings.baseline_min_gain)
