"""Synthetic semesters on a documented generative model, with human errors on request.

The generative model (one student, one class, one semester; all draws independent across
students; coefficients in :data:`MODEL`):

- ``z ~ N(0, 1)``: a latent ability, never written;
- ``gender``: female 49%, male 49%, other 2%; it has no effect on anything (so that fairness
  metrics have a known answer);
- ``parental_support``: low 30%, medium 45%, high 25%;
- ``previous_grade = clip(70 + 11 z + N(0, 4), 0, 100)``;
- ``attendance_rate = clip(88 + 4 z + N(0, 6) - drop, 20, 100)``, ``drop`` = 12 points from the
  drift semester on with ``--drift attendance`` (or ``both``);
- ``study_hours_per_week = clip(exp(N(ln 10 + 0.15 z + s, 0.5)), 0, 60)``, ``s`` = -0.1, 0,
  +0.1 for low, medium, high support;
- ``extracurricular_activities_count = min(Poisson(1.3), 8)``;
- ``final_grade = clip(20 + b_prev previous_grade + 0.30 (attendance - 88) + b_hours (hours - 10)
  + support effect (-3, 0, +3) + 1.0 min(extra, 3) - 0.8 max(extra - 3, 0) + N(0, 5.5), 0, 100)``
  with ``b_prev = 0.65, b_hours = 0.45``; with ``--drift relation`` (or ``both``) the relation
  changes from the drift semester on: ``b_prev = 0.45, b_hours = 1.2`` and the intercept rises
  by 12 so that the mean grade stays close;
- drop-outs: 2% of the students get a final grade of 0 (real data has them: UCI's G3 = 0).

Effect sizes: one SD of previous grade is worth about 7.6 final-grade points, 10 attendance
points 3 points, 5 more study hours 2.3 points, high versus low support 6 points; the noise SD
is 5.5. Grades are written with one decimal, counts as integers.

Human errors (``error_rate``, the kinds in :mod:`gradewatch.synthetic.errors`) are injected on
top, and the manifest records each one with the ground-truth clean value.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradewatch import schema
from gradewatch.plain import plain
from gradewatch.semesters import Period
from gradewatch.synthetic.config import DRIFT_KINDS, ERROR_KINDS, FILE_KINDS, GeneratorConfig
from gradewatch.synthetic.errors import PII_HEADERS, Sheet, inject_errors

MODEL: dict[str, float] = {
    "previous_mean": 70.0, "previous_ability": 11.0, "previous_noise": 4.0,
    "attendance_mean": 88.0, "attendance_ability": 4.0, "attendance_noise": 6.0,
    "attendance_drift_drop": 12.0,
    "hours_median": 10.0, "hours_ability": 0.15, "hours_support": 0.1, "hours_sigma": 0.5,
    "extracurricular_rate": 1.3,
    "intercept": 20.0, "b_previous": 0.65, "b_attendance": 0.30, "b_hours": 0.45,
    "b_support": 3.0, "b_extra": 1.0, "b_extra_over_3": -0.8, "noise": 5.5,
    "drift_b_previous": 0.45, "drift_b_hours": 1.2, "drift_intercept_shift": 12.0,
    "dropout_rate": 0.02,
}
GENDER_SHARES = {"female": 0.49, "male": 0.49, "other": 0.02}
SUPPORT_SHARES = {"low": 0.30, "medium": 0.45, "high": 0.25}
_FIRST = ("Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas",
          "Kemal", "Lea", "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Yuki")
_LAST = ("Almeida", "Brown", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad",
         "Ivanova", "Jensen", "Kowalski", "Lopez", "Martin", "Nakamura", "Okafor", "Silva")


@dataclass
class SyntheticSemester:
    period: Period
    drifted: bool
    truth: pd.DataFrame  # canonical clean values, one row per student
    sheet: Sheet  # what was written: parsed values, errors, file format

    @property
    def parsed(self) -> pd.DataFrame:
        """The canonical rows as the CSV reader returns them (errors included)."""
        return self.sheet.parsed_frame()

    @property
    def file_name(self) -> str:
        return f"{self.period.key}.csv"

    def csv_bytes(self) -> bytes:
        return self.sheet.render()

    def manifest(self) -> dict[str, Any]:
        return {"period": self.period.key, "start_date_period": self.period.start.isoformat(),
                "end_date_period": self.period.end.isoformat(), "file": self.file_name,
                "drifted": self.drifted, **self.sheet.manifest()}


def semester_periods(count: int, first_year: int) -> list[Period]:
    """Two semesters a year: mid-January to June, September to mid-December."""
    periods = []
    for index in range(count):
        year = first_year + index // 2
        if index % 2 == 0:
            periods.append(Period(date(year, 1, 12), date(year, 6, 30)))
        else:
            periods.append(Period(date(year, 9, 1), date(year, 12, 18)))
    return periods


def simulate_students(rng: np.random.Generator, user_ids: np.ndarray, *, drift: str = "none",
                      drifted: bool = False, with_final_grades: bool = True) -> pd.DataFrame:
    """Clean canonical rows of one semester from the generative model (vectorised)."""
    m, n = MODEL, len(user_ids)
    z = rng.standard_normal(n)
    gender = rng.choice(list(GENDER_SHARES), size=n, p=list(GENDER_SHARES.values()))
    support = rng.choice(list(SUPPORT_SHARES), size=n, p=list(SUPPORT_SHARES.values()))
    support_sign = pd.Series(support).map({"low": -1.0, "medium": 0.0, "high": 1.0}).to_numpy()
    previous = np.clip(m["previous_mean"] + m["previous_ability"] * z
                       + rng.normal(0, m["previous_noise"], n), 0, 100).round(1)
    drop = m["attendance_drift_drop"] if drifted and drift in ("attendance", "both") else 0.0
    attendance = np.clip(m["attendance_mean"] + m["attendance_ability"] * z
                         + rng.normal(0, m["attendance_noise"], n) - drop, 20, 100).round(1)
    hours = np.clip(np.exp(rng.normal(np.log(m["hours_median"]) + m["hours_ability"] * z
                                      + m["hours_support"] * support_sign, m["hours_sigma"])),
                    0, 60).round(1)
    extra = np.minimum(rng.poisson(m["extracurricular_rate"], n), 8)
    relation = drifted and drift in ("relation", "both")
    b_prev = m["drift_b_previous"] if relation else m["b_previous"]
    b_hours = m["drift_b_hours"] if relation else m["b_hours"]
    intercept = m["intercept"] + (m["drift_intercept_shift"] if relation else 0.0)
    final = (intercept + b_prev * previous + m["b_attendance"] * (attendance - 88)
             + b_hours * (hours - 10) + m["b_support"] * support_sign
             + m["b_extra"] * np.minimum(extra, 3) + m["b_extra_over_3"] * np.maximum(extra - 3, 0)
             + rng.normal(0, m["noise"], n))
    final = np.clip(final, 0, 100).round(1)
    final[rng.random(n) < m["dropout_rate"]] = 0.0
    return pd.DataFrame({
        schema.USER_ID: user_ids, "gender": gender, "attendance_rate": attendance,
        "study_hours_per_week": hours, "previous_grade": previous,
        "extracurricular_activities_count": extra.astype(np.int64), "parental_support": support,
        schema.FINAL_GRADE: final if with_final_grades else np.full(n, np.nan),
    })


def generate(config: GeneratorConfig) -> list[SyntheticSemester]:
    """All semesters of ``config``, deterministic in ``config.seed``."""
    rng = np.random.default_rng(config.seed)
    semesters = []
    for index, period in enumerate(semester_periods(config.semesters, config.first_year)):
        # Half of each cohort continues from the previous semester, half is new.
        first = index * (config.students // 2)
        numbers = np.char.zfill(np.arange(first, first + config.students).astype(str), 6)
        ids = np.char.add("S", numbers).astype(object)
        rng.shuffle(ids)
        drifted = config.drift != "none" and index >= config.first_drifted
        truth = simulate_students(rng, ids, drift=config.drift, drifted=drifted,
                                  with_final_grades=config.with_final_grades)
        sheet = inject_errors(rng, truth, config, pii=_pii(rng, ids) if config.pii else None)
        semesters.append(SyntheticSemester(period, drifted, sheet.truth, sheet))
    return semesters


def _pii(rng: np.random.Generator, ids: np.ndarray) -> dict[str, np.ndarray]:
    first = rng.choice(_FIRST, size=len(ids))
    last = rng.choice(_LAST, size=len(ids))
    names = np.char.add(np.char.add(first.astype(str), " "), last.astype(str))
    emails = np.char.add(np.char.lower(np.char.add(np.char.add(first.astype(str), "."),
                                                   last.astype(str))), "@mail.example.org")
    phones = np.array([f"+41 79 {rng.integers(100, 999)} {rng.integers(10, 99)} "
                       f"{rng.integers(10, 99)}" for _ in ids])
    return dict(zip(PII_HEADERS, (names, emails, phones), strict=True))


def write_semesters(config: GeneratorConfig, out_dir: Path) -> Path:
    """Write ``<start>_<end>.csv`` per semester and ``manifest.json``; returns the manifest path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    semesters = generate(config)
    for semester in semesters:
        (out_dir / semester.file_name).write_bytes(semester.csv_bytes())
    manifest = {
        "generator": "gradewatch.synthetic.generator", "config": _config_dict(config), "model": MODEL,
        "error_kinds": list(config.error_kinds), "file_kinds": list(FILE_KINDS),
        "semesters": [s.manifest() for s in semesters],
    }
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(plain(manifest), indent=1) + "\n", encoding="utf-8")
    return path


def _config_dict(config: GeneratorConfig) -> dict[str, Any]:
    data = asdict(config)
    data["error_kinds"] = list(config.error_kinds)
    return data


__all__ = ["DRIFT_KINDS", "ERROR_KINDS", "MODEL", "GeneratorConfig", "SyntheticSemester",
           "generate", "semester_periods", "simulate_students", "write_semesters"]
