"""What the generator can be asked for: the error kinds, the drift kinds and its configuration.

Its own module so that the generator and the error injection both use it without importing
each other.
"""

from __future__ import annotations

from dataclasses import dataclass

ROW_KINDS = ("out_of_range", "sentinel", "missing_value", "misspelled_category", "invalid_category",
             "final_grade_out_of_range", "outlier", "multi_bad_row", "duplicate_row",
             "missing_user_id", "percent_string", "stray_whitespace")
FILE_KINDS = ("attendance_fraction", "grade_scale_20", "grade_scale_10", "empty_feature",
              "constant_feature", "bulk_zero_grades", "bom", "semicolon", "decimal_comma")
ERROR_KINDS = ROW_KINDS + FILE_KINDS
DRIFT_KINDS = ("none", "attendance", "relation", "both")


@dataclass(frozen=True)
class GeneratorConfig:
    semesters: int = 2
    students: int = 200
    seed: int = 0
    with_final_grades: bool = False
    error_rate: float = 0.0  # share of students whose row gets one human error
    error_kinds: tuple[str, ...] = ERROR_KINDS
    file_error_rate: float = 0.5  # chance that each file-level kind hits a semester
    pii: bool = False
    drift: str = "none"
    drift_from: int | None = None  # 1-based semester; default: the second half
    first_year: int = 2024

    def __post_init__(self) -> None:
        unknown = sorted(set(self.error_kinds) - set(ERROR_KINDS))
        if unknown:
            raise ValueError(f"unknown error kind(s) {unknown}; known: {', '.join(ERROR_KINDS)}")
        if self.drift not in DRIFT_KINDS:
            raise ValueError(f"drift must be one of {', '.join(DRIFT_KINDS)}")
        if self.semesters < 1 or self.students < 1:
            raise ValueError("semesters and students must be at least 1")
        if not 0 <= self.error_rate <= 1 or not 0 <= self.file_error_rate <= 1:
            raise ValueError("error rates must be between 0 and 1")

    @property
    def first_drifted(self) -> int:
        """0-based index of the first drifted semester."""
        return (self.drift_from - 1) if self.drift_from else self.semesters // 2
