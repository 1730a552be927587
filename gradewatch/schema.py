"""The canonical student report (SPEC section 2): columns, ranges, categories and header aliases.

The PII rule is an allow-list: a column is kept only when its header matches a canonical
column or one of its documented aliases. Everything else (names, e-mails, phones, addresses,
birth dates, free text, anything unknown) is dropped before it reaches memory tables, the
database, the logs or the disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

USER_ID = "user_id"
START = "start_date_period"
END = "end_date_period"
FINAL_GRADE = "final_grade"
PREDICTION = "prediction_final_grade"
PREDICTION_DATE = "prediction_report_date"

GENDERS = ("female", "male", "other")
SUPPORT_LEVELS = ("low", "medium", "high")

MAX_USER_ID_LENGTH = 64

# The default of GRADEWATCH_USER_ID_PATTERN, matched against the whole (trimmed) id: 1 to 64
# characters, none of them whitespace, a control or invisible formatting character (the
# bidirectional overrides that make "S1\u202e" display as something else included), a quote
# (straight or typographic) or a comma. Those never occur in a campus id but do when a quote
# went astray and swallowed the next lines, or when the id column holds names. Campus formats
# pass: S1234, 2024-00123, ab12cd, 1234.5, jean.dupont@uni.example, é1.
# ASCII only, with re's escapes, so it can be read and copied.
USER_ID_FORBIDDEN_CHARACTERS = (
    r"""\s,"'`\u2018-\u201f\u00ab\u00bb\u2039\u203a\x00-\x1f\x7f-\x9f"""
    r"""\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"""
)
DEFAULT_USER_ID_PATTERN = f"[^{USER_ID_FORBIDDEN_CHARACTERS}]{{1,{MAX_USER_ID_LENGTH}}}"


@dataclass(frozen=True)
class NumericFeature:
    name: str
    low: float
    high: float
    integer: bool = False


@dataclass(frozen=True)
class CategoricalFeature:
    name: str
    categories: tuple[str, ...]


NUMERIC_FEATURES: tuple[NumericFeature, ...] = (
    NumericFeature("attendance_rate", 0, 100),
    NumericFeature("study_hours_per_week", 0, 168),
    NumericFeature("previous_grade", 0, 100),
    NumericFeature("extracurricular_activities_count", 0, 50, integer=True),
)
CATEGORICAL_FEATURES: tuple[CategoricalFeature, ...] = (
    CategoricalFeature("gender", GENDERS),
    CategoricalFeature("parental_support", SUPPORT_LEVELS),
)
FINAL_GRADE_RANGE = (0.0, 100.0)

FEATURES: tuple[str, ...] = (
    "gender",
    "attendance_rate",
    "study_hours_per_week",
    "previous_grade",
    "extracurricular_activities_count",
    "parental_support",
)
NUMERIC_BY_NAME = {f.name: f for f in NUMERIC_FEATURES}
CATEGORICAL_BY_NAME = {f.name: f for f in CATEGORICAL_FEATURES}

# The columns an upload may carry. The period comes from the form, but an export that
# repeats it per row is accepted and checked against the form.
UPLOAD_COLUMNS: tuple[str, ...] = (USER_ID, START, END, *FEATURES, FINAL_GRADE)
# The seed columns of a stored report, in report order.
REPORT_COLUMNS: tuple[str, ...] = (*UPLOAD_COLUMNS, PREDICTION, PREDICTION_DATE)

# Documented alias table. Keys are canonical names; values are the header spellings seen in
# real exports. Matching ignores case, spaces and punctuation (see ``header_key``), so
# "Attendance Rate (%)", "attendance_rate" and "ATTENDANCE-RATE" all match "attendancerate".
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    USER_ID: ("user_id", "StudentID", "Student ID", "student_id", "student number", "campus id",
              "UserID", "user", "id", "learner id", "pupil id", "matricule"),
    START: ("start_date_period", "start date", "period start", "semester start", "start"),
    END: ("end_date_period", "end date", "period end", "semester end", "end"),
    "gender": ("gender", "Gender", "sex"),
    "attendance_rate": ("attendance_rate", "AttendanceRate", "Attendance Rate (%)",
                        "attendance percent", "attendance pct", "attendance rate percent"),
    # Not "attendance" alone: exports such as the Kaggle file carry a second, unrelated
    # "Attendance (%)" column next to AttendanceRate.
    "study_hours_per_week": ("study_hours_per_week", "StudyHoursPerWeek", "Study Hours Per Week",
                             "weekly study hours", "study hours week", "hours studied per week"),
    "previous_grade": ("previous_grade", "PreviousGrade", "Previous Grade", "prior grade",
                       "last grade", "previous semester grade"),
    "extracurricular_activities_count": ("extracurricular_activities_count",
                                         "ExtracurricularActivities", "Extracurricular Activities",
                                         "extracurriculars", "extracurricular count",
                                         "activities count"),
    "parental_support": ("parental_support", "ParentalSupport", "Parental Support",
                         "parent support", "family support"),
    FINAL_GRADE: ("final_grade", "FinalGrade", "Final Grade", "final", "final mark",
                  "final score", "grade final"),
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def header_key(header: str) -> str:
    """Case- and punctuation-insensitive form of a header: 'Attendance Rate (%)' -> 'attendancerate'."""
    return _NON_ALNUM.sub("", header.strip().lower())


_ALIAS_INDEX: dict[str, str] = {
    header_key(alias): canonical
    for canonical, aliases in HEADER_ALIASES.items()
    for alias in (canonical, *aliases)
}


def canonical_column(header: str) -> str | None:
    """The canonical column a header stands for, or None when it must be dropped."""
    return _ALIAS_INDEX.get(header_key(header))


# Category spellings seen in exports, after lower-casing and trimming.
CATEGORY_ALIASES: dict[str, dict[str, str]] = {
    "gender": {
        "f": "female", "female": "female", "woman": "female", "w": "female", "girl": "female",
        "fem": "female", "feminine": "female",
        "m": "male", "male": "male", "man": "male", "boy": "male", "masc": "male",
        "o": "other", "other": "other", "x": "other", "nonbinary": "other", "non-binary": "other",
        "nb": "other", "diverse": "other", "d": "other",
    },
    "parental_support": {
        "l": "low", "low": "low", "lo": "low", "weak": "low", "none": "low",
        "m": "medium", "med": "medium", "medium": "medium", "mid": "medium", "moderate": "medium",
        "average": "medium", "avg": "medium",
        "h": "high", "high": "high", "hi": "high", "strong": "high",
    },
}


def normalise_category(column: str, value: str) -> str:
    """Map a spelling to its canonical category; unknown spellings come back trimmed and lower-cased
    so that the cleaning rules (not the upload) decide what to do with them."""
    folded = " ".join(value.strip().lower().split())
    return CATEGORY_ALIASES[column].get(folded, folded)
