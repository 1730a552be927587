"""Geometry of the drift charts, drawn as inline SVG by the model page (no script, no library).

One small bar chart per feature: the drift effect size of each recent semester, the threshold
as a dashed line, drifted semesters in a warning colour. Every chart also carries a text
description, and the numbers are in a table beside it, so nothing is told by colour alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 240, 72  # the bars' area; the labels of the first and last semester go below
LABEL_SPACE = 16
_GAP = 4
_MIN_BAR = 2.0  # a zero or untested value still shows as a sliver


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    drifted: bool
    tested: bool
    label: str


@dataclass(frozen=True)
class FeatureChart:
    feature: str
    bars: list[Bar]
    threshold_y: float | None
    latest: Mapping[str, Any]
    description: str
    rows: list[Mapping[str, Any]]
    first_label: str
    last_label: str | None  # None when only one semester is shown
    width: int = WIDTH
    height: int = HEIGHT
    label_space: int = LABEL_SPACE


def _semester(row: Mapping[str, Any]) -> str:
    return f"{row['start_date_period'].isoformat()} to {row['end_date_period'].isoformat()}"


def _verdict(row: Mapping[str, Any]) -> str:
    if row["statistic"] is None:
        return "not tested (too few rows)"
    return "drifted" if row["drifted"] else "no drift"


def _bar_label(row: Mapping[str, Any]) -> str:
    if row["statistic"] is None:
        return f"{_semester(row)}: not tested"
    return f"{_semester(row)}: effect {row['statistic']:.3f}, {_verdict(row)}"


def feature_chart(feature: str, rows: list[Mapping[str, Any]]) -> FeatureChart:
    """The chart of one feature's rows, oldest semester first."""
    values = [r["statistic"] for r in rows if r["statistic"] is not None]
    thresholds = [r["threshold"] for r in rows if r["threshold"] is not None]
    top = max([*values, *thresholds, 1e-9]) * 1.15
    slot = WIDTH / max(len(rows), 1)
    bars = []
    for i, row in enumerate(rows):
        value = row["statistic"]
        height = max(_MIN_BAR, HEIGHT * (value or 0.0) / top)
        bars.append(Bar(x=round(i * slot + _GAP / 2, 2), y=round(HEIGHT - height, 2),
                        width=round(slot - _GAP, 2), height=round(height, 2),
                        drifted=bool(row["drifted"]), tested=value is not None, label=_bar_label(row)))
    latest = rows[-1]
    threshold = latest["threshold"]
    threshold_y = round(HEIGHT - HEIGHT * threshold / top, 2) if threshold is not None else None
    description = (f"{feature}, latest semester {_semester(latest)}: {_verdict(latest)}"
                   + (f" (effect {latest['statistic']:.3f}, threshold {threshold:.3f})"
                      if latest["statistic"] is not None and threshold is not None else "")
                   + f". {len(rows)} semester(s) shown, oldest first.")
    first, last = rows[0]["start_date_period"], latest["start_date_period"]
    return FeatureChart(feature, bars, threshold_y, latest, description, rows,
                        first_label=first.strftime("%Y-%m"),
                        last_label=last.strftime("%Y-%m") if len(rows) > 1 else None)


def drift_charts(history: Iterable[Mapping[str, Any]]) -> list[FeatureChart]:
    """One chart per feature from ``storage.overview.drift_history`` rows (oldest first)."""
    by_feature: dict[str, list[Mapping[str, Any]]] = {}
    for row in history:
        by_feature.setdefault(row["feature"], []).append(row)
    return [feature_chart(feature, rows) for feature, rows in by_feature.items()]


@dataclass(frozen=True)
class SeriesChart:
    """A small bar chart of one number over time (prediction runs), oldest first."""

    bars: list[Bar]
    description: str
    first_label: str
    last_label: str | None
    width: int = WIDTH
    height: int = HEIGHT
    label_space: int = LABEL_SPACE


def series_chart(points: list[tuple[str, float, str]], description: str, *,
                 top: float | None = None, flagged: Iterable[bool] = ()) -> SeriesChart:
    """Bars for ``points`` (tick label, value, hover label), scaled to ``top`` (default: the
    largest value); a flagged bar is drawn in the warning colour."""
    flags = list(flagged) or [False] * len(points)
    ceiling = max([top or 0.0, *(value for _, value, _ in points), 1e-9])
    slot = WIDTH / max(len(points), 1)
    bars = []
    for i, ((_, value, label), flag) in enumerate(zip(points, flags, strict=True)):
        height = max(_MIN_BAR, HEIGHT * value / ceiling)
        bars.append(Bar(x=round(i * slot + _GAP / 2, 2), y=round(HEIGHT - height, 2),
                        width=round(slot - _GAP, 2), height=round(height, 2), drifted=flag,
                        tested=True, label=label))
    return SeriesChart(bars, description, first_label=points[0][0] if points else "",
                       last_label=points[-1][0] if len(points) > 1 else None)
