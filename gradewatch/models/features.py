"""The feature list as data: which columns a model reads, of which type, and the target's range.

The default is SPEC's schema; any other list of numeric and categorical columns works the same
way (the UCI benchmark builds one from the CSV header). A spec is stored as JSON with each
model version (``model_versions.feature_spec``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gradewatch import schema


@dataclass(frozen=True)
class FeatureSpec:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target_range: tuple[float, float] = schema.FINAL_GRADE_RANGE  # predictions are clipped to it

    def __post_init__(self) -> None:
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"columns both numeric and categorical: {sorted(overlap)}")
        if not self.columns:
            raise ValueError("a feature spec needs at least one column")
        low, high = self.target_range
        if not low < high:
            raise ValueError(f"target_range must be (low, high) with low < high, got {self.target_range}")

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "target_range": list(self.target_range),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        low, high = data.get("target_range", schema.FINAL_GRADE_RANGE)
        return cls(tuple(data["numeric"]), tuple(data["categorical"]), (float(low), float(high)))


DEFAULT_FEATURE_SPEC = FeatureSpec(
    numeric=tuple(f for f in schema.FEATURES if f in schema.NUMERIC_BY_NAME),
    categorical=tuple(f for f in schema.FEATURES if f in schema.CATEGORICAL_BY_NAME),
)


def model_feature_spec(excluded: tuple[str, ...] | list[str],
                       base: FeatureSpec = DEFAULT_FEATURE_SPEC) -> FeatureSpec:
    """``base`` without the ``excluded`` indicators (``GRADEWATCH_MODEL_EXCLUDED_FEATURES``):
    kept for audits, never model inputs."""
    drop = set(excluded)
    return FeatureSpec(
        numeric=tuple(c for c in base.numeric if c not in drop),
        categorical=tuple(c for c in base.categorical if c not in drop),
        target_range=base.target_range,
    )
