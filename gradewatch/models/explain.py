"""Why a student's predicted grade is low: up to three indicators, each with its effect in points.

The method works for every model family because it only calls the model's ``predict``: for
each indicator, every student's value is replaced by the *typical* value (the median, or the
most common category, of the model's training data, taken from its reference profile) and the
students are predicted again. The effect of the indicator on one student is

    effect = prediction with the student's own value - prediction with the typical value

in grade points; a negative effect lowers the predicted grade. The indicators with the most
negative effects (at most three, each at least ``MIN_EFFECT`` points) are the student's reasons.

It is vectorised: all the changed copies of all indicators go through the model in ONE
``predict`` call (a row whose value already is the typical one needs no copy: its effect is 0),
so the cost is one prediction of at most ``indicators x students`` rows, not one per student.
An indicator excluded from the model's inputs (``GRADEWATCH_MODEL_EXCLUDED_FEATURES``, gender
by default) is never attributed and never appears.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gradewatch.models.features import FeatureSpec
from gradewatch.models.training import TrainedModel, prepare_features

MAX_REASONS = 3
MIN_EFFECT = 0.05  # grade points; smaller effects are noise, not a reason
# Indicators a teacher can act on; the previous grade is context, not advice.
ACTIONABLE = frozenset({"attendance_rate", "study_hours_per_week",
                        "extracurricular_activities_count", "parental_support"})


# A reason is a dict: feature, value (the student's), typical, effect (grade points; negative
# lowers the predicted grade) and actionable (bool). Stored as JSON in grade_predictions.reasons.


def typical_values(profile: Mapping[str, Any], spec: FeatureSpec,
                   excluded: Collection[str] = ()) -> dict[str, float | str]:
    """The typical value of each indicator in a reference profile (``drift.build_profile``)."""
    features = profile.get("features", {}) if profile else {}
    typical: dict[str, float | str] = {}
    for name in spec.columns:
        entry = features.get(name)
        if name in excluded or not entry:
            continue
        if name in spec.numeric and entry.get("sample"):
            typical[name] = float(np.median(entry["sample"]))
        elif name in spec.categorical and entry.get("counts"):
            counts = entry["counts"]
            typical[name] = str(max(sorted(counts), key=lambda c: counts[c]))
    return typical


def _plain(value: Any) -> float | str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return round(float(value), 2)


def indicator_effects(model: TrainedModel, frame: pd.DataFrame, typical: Mapping[str, float | str],
                      baseline: np.ndarray | None = None) -> pd.DataFrame:
    """Effect in grade points of each indicator of ``typical`` on each row (rows x indicators)."""
    spec = model.feature_spec
    prepared = prepare_features(frame, spec).reset_index(drop=True)
    names = [n for n in spec.columns if n in typical]
    base = (np.asarray(baseline, dtype="float64") if baseline is not None
            else model.predict_grades(prepared))
    effects = np.zeros((len(prepared), len(names)))
    copies, owners = [], []
    for j, name in enumerate(names):
        changed = ~(prepared[name] == typical[name]).to_numpy()
        if not changed.any():
            continue
        copy = prepared.loc[changed].copy()
        copy[name] = typical[name]
        copies.append(copy)
        owners.append((j, np.flatnonzero(changed)))
    if copies:
        # Already prepared: straight into the pipeline (predict_grades would prepare them again).
        counterfactual = np.clip(model.pipeline.predict(pd.concat(copies, ignore_index=True)),
                                 *spec.target_range)
        start = 0
        for j, rows in owners:
            effects[rows, j] = base[rows] - counterfactual[start:start + rows.size]
            start += rows.size
    return pd.DataFrame(effects, columns=names)


def explain(model: TrainedModel, frame: pd.DataFrame, typical: Mapping[str, float | str],
            *, baseline: np.ndarray | None = None, excluded: Collection[str] = (),
            top: int = MAX_REASONS) -> list[list[dict[str, Any]]]:
    """Each row's reasons (dicts, see above), the most negative effect first."""
    usable = {k: v for k, v in typical.items() if k not in excluded}
    effects = indicator_effects(model, frame, usable, baseline)
    names = list(effects.columns)
    values = effects.to_numpy()
    order = np.argsort(values, axis=1, kind="stable")[:, :top] if names else np.zeros((len(frame), 0), int)
    picked = np.take_along_axis(values, order, axis=1)
    # Plain Python values once, not per cell: the loop below runs for every student.
    columns = [[_plain(v) for v in frame[name].tolist()] for name in names]
    typical_plain = [_plain(usable[name]) for name in names]
    actionable = [name in ACTIONABLE for name in names]
    rounded = np.round(picked, 2).tolist()
    return [
        [{"feature": names[j], "value": columns[j][row], "typical": typical_plain[j], "effect": e,
          "actionable": actionable[j]}
         for j, e in zip(indices, row_effects, strict=True) if e <= -MIN_EFFECT]
        for row, (indices, row_effects) in enumerate(zip(order.tolist(), rounded, strict=True))
    ]


def _number(value: float | str | None) -> str:
    if value is None:
        return "missing"
    if isinstance(value, str):
        return value
    return f"{value:.1f}".removesuffix(".0")


def reason_text(reason: Mapping[str, Any]) -> str:
    """One reason in plain words: ``attendance_rate 61 (typical 84): -7.5 points``."""
    text = (f"{reason['feature']} {_number(reason['value'])} (typical {_number(reason['typical'])}): "
            f"{reason['effect']:+.1f} points")
    return text + (" (actionable)" if reason.get("actionable") else " (context)")


def reasons_text(reasons: Sequence[Mapping[str, Any]] | None) -> str:
    """A student's reasons as one report cell, most important first, ``; `` between them."""
    return "; ".join(reason_text(r) for r in reasons or ())


def explain_model(model: TrainedModel, frame: pd.DataFrame, *, baseline: np.ndarray | None = None,
                  excluded: Collection[str] = ()) -> list[list[dict[str, Any]]]:
    """:func:`explain` against the typical values of ``model``'s own training data."""
    typical = typical_values(model.reference_profile, model.feature_spec, excluded)
    return explain(model, frame, typical, baseline=baseline, excluded=excluded)
