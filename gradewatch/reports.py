"""The prediction report a teacher acts on: its columns, risk tiers, reasons and filters.

``GET /get-report`` and the reports page's download both stream :func:`report_rows` under
:data:`REPORT_HEADER`, so the full CSV of either is the same, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from gradewatch import schema
from gradewatch.models.explain import reasons_text
from gradewatch.semesters import Period
from gradewatch.storage.reports import ReportFilter, iter_report

RISK_TIERS = ("high", "moderate", "low")

# Every column the report adds to the seed columns, with its meaning (README, OpenAPI).
REPORT_COLUMN_MEANINGS: dict[str, str] = {
    "interval_lower": "lower end of the 90% interval of the predicted grade",
    "interval_upper": "upper end of the 90% interval of the predicted grade",
    "probability_below_pass": "probability that the final grade falls below the pass mark",
    "at_risk": "true when that probability is at least 0.5",
    "risk_tier": "high / moderate / low, from GRADEWATCH_RISK_TIERS on the probability of failing",
    "reasons": "up to three indicators that lower the predicted grade most, in plain words: "
               "value, typical value of the model's training data, effect in grade points; "
               "'actionable' marks what a teacher can act on, 'context' the previous grade",
    "previous_probability_below_pass": "the probability of failing in the semester's previous "
                                       "prediction run (empty when the student was not in it)",
    "change_in_probability": "probability_below_pass minus previous_probability_below_pass",
    "newly_at_risk": "at risk now and not at risk in the previous prediction run",
    "model_version": "the champion model that made the prediction",
}
REPORT_HEADER: tuple[str, ...] = (*schema.REPORT_COLUMNS, *REPORT_COLUMN_MEANINGS)


def risk_tier(probability: float | None, tiers: tuple[float, float]) -> str | None:
    """``high`` at or above ``tiers[0]``, ``moderate`` at or above ``tiers[1]``, else ``low``."""
    if probability is None:
        return None
    high, moderate = tiers
    return "high" if probability >= high else "moderate" if probability >= moderate else "low"


def tier_counts(probabilities: Iterable[float | None], tiers: tuple[float, float]) -> dict[str, int]:
    """Students per risk tier (every tier present, zero included), for summaries and pages."""
    counts = dict.fromkeys(RISK_TIERS, 0)
    for probability in probabilities:
        tier = risk_tier(None if probability is None or probability != probability else float(probability), tiers)
        if tier is not None:
            counts[tier] += 1
    return counts


@dataclass(frozen=True)
class ReportView:
    """The filters of the reports page; the default is the full report."""

    tier: str | None = None
    at_risk_only: bool = False
    newly_at_risk_only: bool = False

    def __post_init__(self) -> None:
        if self.tier is not None and self.tier not in RISK_TIERS:
            raise ValueError(f"risk tier must be one of {', '.join(RISK_TIERS)}, got {self.tier!r}")

    @property
    def is_full(self) -> bool:
        return self == ReportView()

    def storage_filter(self, tiers: tuple[float, float]) -> ReportFilter:
        high, moderate = tiers
        bounds = {"high": (high, None), "moderate": (moderate, high), "low": (None, moderate),
                  None: (None, None)}[self.tier]
        return ReportFilter(bounds[0], bounds[1], self.at_risk_only, self.newly_at_risk_only)


def report_row(row: dict[str, object], tiers: tuple[float, float]) -> list[object]:
    """One stored report row as the cells of :data:`REPORT_HEADER`."""
    probability = row["probability_below_pass"]
    previous = row["previous_probability_below_pass"]
    change = probability - previous if probability is not None and previous is not None else None
    cells = {
        **row,
        "risk_tier": risk_tier(probability, tiers),
        "reasons": reasons_text(row["reasons"]),
        "change_in_probability": change,
        "newly_at_risk": bool(row["at_risk"]) and row["previous_at_risk"] is False,
    }
    return [cells[c] for c in REPORT_HEADER]


def report_rows(engine: Engine, period: Period, tiers: tuple[float, float],
                view: ReportView = ReportView()) -> Iterator[list[object]]:
    """The report's rows (riskiest first), streamed, keeping those ``view`` names."""
    for row in iter_report(engine, period, view.storage_filter(tiers)):
        yield report_row(row, tiers)
