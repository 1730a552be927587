"""Two prediction runs of one semester a fortnight apart, written through the real storage code.

Six students; the second run adds one student and moves the others, and a shadow row sits
beside the champion's (it must never reach a report). Probabilities of failing:

    student   0     1     2     3     4     5
    run 1    0.1   0.3   0.6   0.7   0.4   -
    run 2    0.6   0.3   0.9   0.15  0.45  0.8   (shadow: student 1 at 0.99)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine

from gradewatch.storage.predictions import record_predictions
from gradewatch.storage.tables import grade_predictions
from tests.support.semesters import S1, semester_frame, upload

FIRST = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECOND = FIRST + timedelta(days=14)
REASON = [{"feature": "attendance_rate", "value": 61.0, "typical": 84.0, "effect": -7.46, "actionable": True}]
SEMESTER = S1


def predictions(ids: list[str], probabilities: list[float], reasons: list | None = None) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": ids, "predicted_grade": [80 - 40 * p for p in probabilities],
        "interval_lower": [50.0] * len(ids), "interval_upper": [90.0] * len(ids),
        "probability_below_pass": probabilities, "at_risk": [p >= 0.5 for p in probabilities],
        "reasons": [REASON] * len(ids) if reasons is None else reasons,
    })


def two_prediction_runs(engine: Engine, reasons: list | None = None) -> list[str]:
    frame = semester_frame(S1, 6)
    upload(engine, S1, frame, grades=False)
    ids = frame["user_id"].tolist()
    record_predictions(engine, S1, predictions(ids[:5], [0.1, 0.3, 0.6, 0.7, 0.4]), "v1", FIRST)
    record_predictions(engine, S1, predictions(ids, [0.6, 0.3, 0.9, 0.15, 0.45, 0.8], reasons), "v1", SECOND)
    with engine.begin() as conn:  # the kept challenger's row beside the champion's, same time
        conn.execute(grade_predictions.insert(), [{
            "start_date_period": S1.start, "end_date_period": S1.end, "user_id": ids[1],
            "model_version": "shadow-v", "predicted_grade": 10.0, "interval_lower": 0.0,
            "interval_upper": 20.0, "probability_below_pass": 0.99, "at_risk": True,
            "predicted_at": SECOND, "role": "shadow", "reasons": None}])
    return ids
