"""Why a student's predicted grade is low: up to three indicators, each with its effect in points.

The method works for every model family because it only calls the model's ``predict``: for
each indicator, every student's value is replaced by the *typical* value (the median, or the
most common category, of the model's training data, taken from its reference profile) and the
students are predicted again. The effect of the indicator on one student is

    effect = prediction with the student's own value - prediction with the typical value

in grade points; a negative effect lowers the predicted grade. The indicators with the most
negative effects (at most three, each at least ``MIN_EFFECT`` points) are the student's reasons.

It is vectorised: all the changed copies of all indicators go through the model in ONE
``predict`` call, so the cost is one prediction of at most ``indicators x students`` rows, not
one per student. Copies that cannot give a reason are not made: a row whose value already is
the typical one (its effect is 0), and a value at or above the typical one of an indicator where
more never lowers a grade (:data:`NEVER_LOWERS_WHEN_HIGHER`). The students are encoded once and
each copy replaces only its indicator's encoded columns (:func:`_encoded_blocks`), so the
encoder does not run on every copy.
An indicator excluded from the model's inputs (``GRADEWATCH_MODEL_EXCLUDED_FEATURES``, gender
by default) is never attributed and never appears.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder

from gradewatch import schema
from gradewatch.models.features import FeatureSpec
from gradewatch.models.training import TrainedModel, prepare_features

MAX_REASONS = 3
MIN_EFFECT = 0.05  # grade points; smaller effects are noise, not a reason
PROBE_ROWS = 64  # distinct values per indicator that check the encoded shortcut against the encoder
# Indicators a teacher can act on; the previous grade is context, not advice.
ACTIONABLE = frozenset({"attendance_rate", "study_hours_per_week",
                        "extracurricular_activities_count", "parental_support"})
# Indicators for which more (or a higher level) never lowers a grade: the generator's documented
# model and the literature it follows (attendance, study time, prior achievement and family
# support all go with better grades). A value at or above the typical one can therefore not be a
# reason, and its copy is not predicted: an effect found there is the model's noise (a forest's
# steps), and "attendance 97 (typical 88): -0.4 points (actionable)" would be advice to attend
# less. The order of a categorical indicator's levels, lowest first; None: numeric. Not listed:
# extracurricular activities, which help up to three and hinder beyond (documented model).
NEVER_LOWERS_WHEN_HIGHER: Mapping[str, tuple[str, ...] | None] = {
    "attendance_rate": None,
    "study_hours_per_week": None,
    "previous_grade": None,
    "parental_support": schema.SUPPORT_LEVELS,
}


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
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # NaN, NA, NaT
        return None
    if isinstance(value, str):
        return value
    return round(float(value), 2)


def _encoded_blocks(encoder: Any, prepared: pd.DataFrame, names: Sequence[str],
                    typical: Mapping[str, float | str]) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Per indicator: the encoded columns it alone feeds, and their values at its typical value.

    Replacing an indicator by its typical value then replaces only those columns of the rows
    encoded once, so the counterfactual copies skip the encoder (most of the cost of a ridge;
    the one-hot encoding of string columns is slow). Only for a ``ColumnTransformer`` whose
    parts map columns one to one (imputer, scaler) or one to a block (one-hot); anything else,
    or a probe where the shortcut does not reproduce the encoder exactly, returns None and the
    caller encodes the copies the slow way.
    """
    if not isinstance(encoder, ColumnTransformer):
        return None
    owned: dict[str, np.ndarray] = {}
    for part, transformer, columns in encoder.transformers_:
        if part == "remainder" and transformer == "drop":
            continue
        if isinstance(transformer, str) or not isinstance(columns, list | tuple):
            return None
        outputs = np.arange(encoder.output_indices_[part].start, encoder.output_indices_[part].stop)
        if isinstance(transformer, OneHotEncoder):
            if transformer.drop is not None or getattr(transformer, "infrequent_categories_", None):
                return None
            widths = [len(c) for c in transformer.categories_]
        else:
            widths = [1] * len(columns)  # one to one, checked by the width and the probe below
        if sum(widths) != outputs.size:
            return None
        bounds = np.cumsum([0, *widths])
        for k, column in enumerate(columns):
            owned[column] = outputs[bounds[k]:bounds[k + 1]]
    if any(name not in owned for name in names):
        return None
    at_typical = encoder.transform(prepared.iloc[:1].assign(**{n: typical[n] for n in names}))[0]
    blocks = {name: (owned[name], at_typical[owned[name]]) for name in names}
    # The probe: for each indicator, rows with distinct values that differ from the typical one
    # (a missing value included); all indicators' probes in one encoder call (each call has a
    # fixed cost of several milliseconds).
    probes, replaced = [], []
    for name in names:
        values = prepared[name]
        rows = values.loc[~(values == typical[name])].drop_duplicates().index[:PROBE_ROWS]
        probes.append(prepared.loc[rows])
        replaced.append(prepared.loc[rows].assign(**{name: typical[name]}))
    sizes = [len(p) for p in probes]
    if not sum(sizes):
        return blocks
    shortcut = encoder.transform(pd.concat(probes, ignore_index=True))
    expected = encoder.transform(pd.concat(replaced, ignore_index=True))
    start = 0
    for name, size in zip(names, sizes, strict=True):
        shortcut[start:start + size, owned[name]] = blocks[name][1]
        start += size
    if not np.array_equal(shortcut, expected, equal_nan=True):
        return None
    return blocks


def _plain_cells(column: pd.Series, rows: np.ndarray) -> list[float | str | None]:
    """:func:`_plain` of ``column``'s cells at positions ``rows``; numbers without a call per cell."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)[rows].tolist()
        return [None if v != v else round(v, 2) for v in numbers]  # v != v: NaN
    return [_plain(v) for v in column.to_numpy(dtype=object)[rows].tolist()]


def _can_lower(values: pd.Series, typical: float | str, levels: tuple[str, ...] | None) -> np.ndarray:
    """Rows whose value is below the typical one, on an indicator where more never lowers a
    grade; a missing or unknown value is kept (nothing says which side it is on)."""
    if levels is None:
        return ~(values.to_numpy(dtype="float64") >= float(typical))  # NaN >= x is False: kept
    rank = {level: k for k, level in enumerate(levels)}
    if typical not in rank:
        return np.ones(len(values), dtype=bool)
    ranks = values.map(rank).to_numpy(dtype="float64")  # NaN: missing or unknown
    return ~(ranks >= rank[typical])


def indicator_effects(model: TrainedModel, frame: pd.DataFrame, typical: Mapping[str, float | str],
                      baseline: np.ndarray | None = None, *,
                      directions: Mapping[str, tuple[str, ...] | None] | None = None) -> pd.DataFrame:
    """Effect in grade points of each indicator of ``typical`` on each row (rows x indicators).

    ``directions`` (e.g. :data:`NEVER_LOWERS_WHEN_HIGHER`): indicators whose value at or above
    the typical one is not attributed (effect 0), as it cannot be a reason.
    """
    spec = model.feature_spec
    prepared = prepare_features(frame, spec).reset_index(drop=True)
    names = [n for n in spec.columns if n in typical]
    effects = np.zeros((len(prepared), len(names)))
    owners = []
    for j, name in enumerate(names):
        # A row whose value already is the typical one needs no copy: its effect is 0.
        attributed = ~(prepared[name] == typical[name]).to_numpy()
        if directions is not None and name in directions:
            attributed &= _can_lower(prepared[name], typical[name], directions[name])
        if (rows := np.flatnonzero(attributed)).size:
            owners.append((j, rows))
    if not owners:
        return pd.DataFrame(effects, columns=names)
    encoder, regressor = model.pipeline[:-1], model.pipeline[-1]
    step = encoder.steps[0][1] if len(encoder.steps) == 1 else None
    blocks = _encoded_blocks(step, prepared, names, typical) if step is not None else None
    if blocks is not None:
        # Encode the students once; each copy is their encoded row with one block replaced.
        encoded = np.asarray(encoder.transform(prepared), dtype="float64")
        base = (np.asarray(baseline, dtype="float64") if baseline is not None
                else np.clip(regressor.predict(encoded), *spec.target_range))
        stacked = np.empty((sum(rows.size for _, rows in owners), encoded.shape[1]))
        start = 0
        for j, rows in owners:
            part = stacked[start:start + rows.size]
            np.take(encoded, rows, axis=0, out=part)
            columns, values = blocks[names[j]]
            part[:, columns] = values
            start += rows.size
        counterfactual = np.clip(regressor.predict(stacked), *spec.target_range)
    else:
        base = (np.asarray(baseline, dtype="float64") if baseline is not None
                else model.predict_grades(prepared))
        copies = []
        for j, rows in owners:
            copy = prepared.iloc[rows].copy()
            copy[names[j]] = typical[names[j]]
            copies.append(copy)
        # Already prepared: straight into the pipeline (predict_grades would prepare them again).
        counterfactual = np.clip(model.pipeline.predict(pd.concat(copies, ignore_index=True)),
                                 *spec.target_range)
    # All the copies of all indicators went through the model in ONE predict call.
    start = 0
    for j, rows in owners:
        effects[rows, j] = base[rows] - counterfactual[start:start + rows.size]
        start += rows.size
    return pd.DataFrame(effects, columns=names)


@dataclass(frozen=True)
class Reasons:
    """Every student's reasons, column-wise: one entry per reason, students in order and each
    student's reasons most negative effect first.

    Kept as arrays because building a dict per reason and then ``json.dumps`` per student cost
    more than the attribution itself (100k students); :meth:`as_json` writes the stored JSON
    straight from the columns, :meth:`as_lists` gives the dicts to code that wants them.
    """

    students: int
    names: tuple[str, ...]          # the attributed indicators
    typical: tuple[float | str | None, ...]  # their typical values, plain
    rows: np.ndarray                # the student (position) of each reason, ascending
    features: np.ndarray            # the indicator (index into names) of each reason
    values: list[float | str | None]  # the student's value of each reason, plain
    effects: list[float]            # grade points, rounded to 2 decimals, negative

    @classmethod
    def none(cls, students: int) -> Reasons:
        empty = np.zeros(0, dtype=np.int64)
        return cls(students, (), (), empty, empty, [], [])

    def as_lists(self) -> list[list[dict[str, Any]]]:
        """Each student's reasons as dicts: feature, value, typical, effect, actionable."""
        reasons: list[list[dict[str, Any]]] = [[] for _ in range(self.students)]
        for row, j, value, effect in zip(self.rows.tolist(), self.features.tolist(), self.values,
                                         self.effects, strict=True):
            reasons[row].append({"feature": self.names[j], "value": value, "typical": self.typical[j],
                                 "effect": effect, "actionable": self.names[j] in ACTIONABLE})
        return reasons

    def as_json(self) -> list[str]:
        """Each student's reasons as the JSON text of :meth:`as_lists` (``[]`` for none)."""
        # The parts of a reason that depend only on its indicator are written once per indicator.
        heads = [f'{{"feature":{json.dumps(name)},"value":' for name in self.names]
        tails = [f',"typical":{json.dumps(typical)},"effect":' for typical in self.typical]
        ends = [',"actionable":true}' if name in ACTIONABLE else ',"actionable":false}'
                for name in self.names]
        # A value is a number (repr is JSON's own form of a finite float), a category or None.
        parts = [f"{heads[j]}{_json_value(value)}{tails[j]}{effect!r}{ends[j]}"
                 for j, value, effect in zip(self.features.tolist(), self.values, self.effects,
                                             strict=True)]
        bounds = np.searchsorted(self.rows, np.arange(self.students + 1)).tolist()
        return ["[" + ",".join(parts[a:b]) + "]" for a, b in itertools.pairwise(bounds)]


def _json_value(value: float | str | None) -> str:
    if value is None:
        return "null"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def attribute(model: TrainedModel, frame: pd.DataFrame, typical: Mapping[str, float | str],
              *, baseline: np.ndarray | None = None, excluded: Collection[str] = (),
              top: int = MAX_REASONS) -> Reasons:
    """Each row's reasons (at most ``top``, each at least ``MIN_EFFECT`` points), column-wise."""
    usable = {k: v for k, v in typical.items() if k not in excluded}
    effects = indicator_effects(model, frame, usable, baseline, directions=NEVER_LOWERS_WHEN_HIGHER)
    names = list(effects.columns)
    if not names:
        return Reasons.none(len(frame))
    values = effects.to_numpy()
    order = np.argsort(values, axis=1, kind="stable")[:, :top]
    rounded = np.round(np.take_along_axis(values, order, axis=1), 2)
    kept_rows, kept_ranks = np.nonzero(rounded <= -MIN_EFFECT)  # row-major: rank order per row
    features = order[kept_rows, kept_ranks]
    # Plain values of the picked cells only, one indicator at a time: turning every cell into a
    # plain Python value one by one cost more than the attribution itself (100k students).
    own = np.empty(kept_rows.size, dtype=object)
    for j, name in enumerate(names):
        at = np.flatnonzero(features == j)
        if at.size:
            own[at] = _plain_cells(frame[name], kept_rows[at])
    return Reasons(len(frame), tuple(names), tuple(_plain(usable[name]) for name in names),
                   kept_rows, features, own.tolist(), rounded[kept_rows, kept_ranks].tolist())


def explain(model: TrainedModel, frame: pd.DataFrame, typical: Mapping[str, float | str],
            *, baseline: np.ndarray | None = None, excluded: Collection[str] = (),
            top: int = MAX_REASONS) -> list[list[dict[str, Any]]]:
    """Each row's reasons (dicts, see above), the most negative effect first."""
    return attribute(model, frame, typical, baseline=baseline, excluded=excluded, top=top).as_lists()


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
                  excluded: Collection[str] = ()) -> Reasons:
    """:func:`attribute` against the typical values of ``model``'s own training data."""
    typical = typical_values(model.reference_profile, model.feature_spec, excluded)
    return attribute(model, frame, typical, baseline=baseline, excluded=excluded)
