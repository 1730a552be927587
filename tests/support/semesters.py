"""Seed semesters through the real ingestion path (the same code as POST /update-csv)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gradewatch.intake.ingest import IngestResult, ingest_csv
from gradewatch.semesters import Period
from tests.support.gradegen import make_semester

S1 = Period.from_key("2025-01-13_2025-06-27")
S2 = Period.from_key("2025-09-01_2026-01-23")
S3 = Period.from_key("2026-02-02_2026-06-26")
S4 = Period.from_key("2026-09-07_2027-01-22")


def semester_frame(period: Period, n: int = 400, seed: int | None = None, **kwargs: object) -> pd.DataFrame:
    frame = make_semester(n, seed=seed if seed is not None else period.start.toordinal() % 10_000, **kwargs)
    frame["user_id"] = [f"{period.start.year}{period.start.month:02d}-{i:05d}" for i in range(n)]
    return frame


def upload(engine: Engine, period: Period, frame: pd.DataFrame, *, grades: bool) -> IngestResult:
    data = frame if grades else frame.drop(columns=["final_grade"])
    return ingest_csv(engine, data.to_csv(index=False).encode(), period, source="api", token_name="test")


def upload_grades(engine: Engine, period: Period, frame: pd.DataFrame) -> IngestResult:
    data = frame[["user_id", "final_grade"]]
    return ingest_csv(engine, data.to_csv(index=False).encode(), period, source="api", token_name="test")


def inverted(frame: pd.DataFrame) -> pd.DataFrame:
    """The same students under a different relation between features and grade (concept drift)."""
    out = frame.copy()
    out["final_grade"] = np.round(np.clip(130 - out["final_grade"], 0, 100), 1)
    return out
