"""The quality report of one cleaning run: a dict/JSON for machines, Markdown for people.

:mod:`gradewatch.quality.cleaning` fills it in; the Dagster ``cleaned_features`` asset shows
:meth:`QualityReport.to_markdown` as metadata and ``gradewatch clean --report`` writes
:meth:`QualityReport.to_dict` as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Every rule of the cleaning, by name, with its documented action. The report always carries
# every name (with 0 when the rule did not fire) so dashboards can rely on the keys.
RULES: dict[str, str] = {
    "missing_user_id": "row dropped: without an id no prediction can be attached to a student",
    "duplicate_user_id": "older copies dropped; the most recently updated row (else the later "
                         "row of the file) wins",
    "missing_value": "empty feature cell: imputed (one bad feature) or counted towards exclusion",
    "unparseable": "feature cell that is not a number: treated as a bad value",
    "out_of_range": "feature value outside its SPEC range: treated as a bad value",
    "sentinel": "placeholder such as -1, -5, 99, 999 or 200 where impossible: treated as a bad value",
    "not_integer": "fractional extracurricular count: treated as a bad value",
    "invalid_category": "category outside the allowed set, not a recognisable misspelling: "
                        "treated as a bad value",
    "misspelled_category": "category mapped to the one allowed category it unambiguously misspells",
    "attendance_fraction": "attendance given as 0-1 for the whole file: multiplied by 100",
    "grade_scale": "grades on a 0-20 or 0-10 scale for the whole semester: rescaled to 0-100",
    "outlier": "robust outlier (distance to the median above 3.5 robust SD): flagged, kept",
    "final_grade_out_of_range": "final grade outside 0-100 (or a sentinel): made unknown and "
                                "flagged, never imputed (it is the target)",
    "zero_grade": "previous or final grade of 0: counted and kept (in bulk it is drop-outs, "
                  "not typing errors)",
    "constant_feature": "a feature with one single value in the semester: reported",
    "all_missing_feature": "a feature with no usable value in the semester: reported; its cells "
                           "are imputed from the reference",
}


@dataclass
class QualityReport:
    """What one cleaning run did. ``rows_in = rows_out + sum(dropped)``,
    ``rows_out = kept + excluded`` and ``kept = clean + imputed``."""

    rows_in: int = 0
    rows_out: int = 0
    imputed: int = 0
    excluded: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {"missing_user_id": 0,
                                                             "duplicate_user_id": 0})
    rules: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULES, 0))
    rules_by_column: dict[str, dict[str, int]] = field(default_factory=dict)
    imputed_by_column: dict[str, int] = field(default_factory=dict)
    excluded_by_bad_features: dict[str, int] = field(default_factory=dict)
    conversions: list[dict[str, Any]] = field(default_factory=list)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    zero_grades: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference_source: str = "training"
    reference_note: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def clean(self) -> int:
        return self.rows_out - self.imputed - self.excluded

    @property
    def kept(self) -> int:
        """Rows that get a prediction: clean ones and imputed ones."""
        return self.rows_out - self.excluded

    def count(self, rule: str, column: str | None, n: int) -> None:
        """Add ``n`` hits of ``rule`` (on ``column``, if the rule is about a column)."""
        if n <= 0:
            return
        self.rules[rule] = self.rules.get(rule, 0) + int(n)
        if column is not None:
            by_column = self.rules_by_column.setdefault(rule, {})
            by_column[column] = by_column.get(column, 0) + int(n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "kept": self.kept,
            "clean": self.clean,
            "imputed": self.imputed,
            "excluded": self.excluded,
            "dropped": dict(self.dropped),
            "rules": dict(self.rules),
            "rules_by_column": {k: dict(v) for k, v in self.rules_by_column.items()},
            "imputed_by_column": dict(self.imputed_by_column),
            "excluded_by_bad_features": dict(self.excluded_by_bad_features),
            "conversions": [dict(c) for c in self.conversions],
            "features": {k: dict(v) for k, v in self.features.items()},
            "zero_grades": {k: dict(v) for k, v in self.zero_grades.items()},
            "reference_source": self.reference_source,
            "reference_note": self.reference_note,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}  # not derived ones
        return cls(**known)

    def to_markdown(self, title: str = "Data quality") -> str:
        lines = [
            f"### {title}",
            "",
            "| rows in | dropped | rows out | kept | of which clean | of which imputed | excluded |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {self.rows_in} | {sum(self.dropped.values())} | {self.rows_out} | {self.kept} "
            f"| {self.clean} | {self.imputed} | {self.excluded} |",
            "",
            f"Reference for imputation and outliers: **{self.reference_source}**. "
            f"{self.reference_note}".rstrip(),
            "",
        ]
        fired = [(name, n) for name, n in self.rules.items() if n]
        if fired:
            lines += ["| rule | count | by column | action |", "| --- | ---: | --- | --- |"]
            for name, n in fired:
                columns = ", ".join(f"{c} {k}" for c, k in self.rules_by_column.get(name, {}).items())
                lines.append(f"| {name} | {n} | {columns} | {RULES.get(name, '')} |")
            lines.append("")
        else:
            lines += ["No cleaning rule fired.", ""]
        if self.imputed_by_column:
            cells = ", ".join(f"{c}: {n}" for c, n in self.imputed_by_column.items())
            lines.append(f"- Imputed (one bad feature, row kept): {cells}.")
        if self.excluded:
            reasons = ", ".join(f"{n} rows with {k} bad features"
                                for k, n in self.excluded_by_bad_features.items())
            lines.append(f"- Excluded from prediction (two or more bad features): {reasons}.")
        for name, n in self.dropped.items():
            if n:
                lines.append(f"- Dropped ({name}): {n} rows.")
        for conversion in self.conversions:
            lines.append(f"- Converted {conversion['column']}: {conversion['description']}.")
        for column, zeros in self.zero_grades.items():
            if zeros["count"]:
                bulk = " (in bulk: likely drop-outs, kept)" if zeros["bulk"] else ""
                lines.append(f"- {column} = 0 in {zeros['count']} rows{bulk}.")
        lines += [f"- Warning: {w}" for w in self.warnings]
        return "\n".join(lines).rstrip() + "\n"
