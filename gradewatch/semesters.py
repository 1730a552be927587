"""A semester (period) and its partition key ``<start>_<end>`` in ISO dates (SPEC section 6)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})")


class PeriodError(ValueError):
    """A semester that cannot exist; the message says what is wrong."""


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise PeriodError(
                f"start_date_period ({self.start.isoformat()}) must be before "
                f"end_date_period ({self.end.isoformat()}); were they swapped?"
            )

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    @classmethod
    def from_key(cls, key: str) -> Period:
        """Parse ``2026-01-12_2026-06-30`` (anything after the second date is ignored)."""
        match = _KEY.match(key)
        if not match:
            raise PeriodError(f"{key!r} does not start with <start>_<end> in ISO dates")
        try:
            return cls(date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2)))
        except ValueError as exc:
            raise PeriodError(f"{key!r} holds an impossible date: {exc}") from exc

    def __str__(self) -> str:
        return self.key


def other_dates(values: pd.Series, expected: date) -> np.ndarray:
    """Which cells of a date column hold a date other than ``expected`` (an empty one does not).

    Each distinct date is compared once: a semester's rows repeat one or two (row by row this
    took 2.5 s per 1M rows). Cells may be dates or timestamps (a column read back from storage).
    """
    codes, dates = pd.factorize(values, sort=False, use_na_sentinel=True)
    # Code -1 (an empty cell) picks the trailing False.
    # A timestamp is compared by its day; a date as it is (any year: pandas' timestamps end in 2262).
    differs = np.array([(d.date() if isinstance(d, datetime) else d) != expected for d in dates] + [False],
                       dtype=bool)
    return differs[codes]
