"""Shadow predictions: history rows beside the champion's, never in a report (both backends)."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from gradewatch.storage.db import utcnow
from gradewatch.storage.overview import semester_overview
from gradewatch.storage.predictions import load_latest_predictions, record_predictions
from gradewatch.storage.reports import iter_report
from gradewatch.storage.tables import grade_predictions
from tests.support.semesters import S1, semester_frame, upload


def _predictions(user_ids: list[str], grade: float) -> pd.DataFrame:
    n = len(user_ids)
    return pd.DataFrame({"user_id": user_ids, "predicted_grade": [grade] * n, "interval_lower": [grade - 9] * n,
                         "interval_upper": [grade + 9] * n, "probability_below_pass": [0.9 if grade < 60 else 0.1] * n,
                         "at_risk": [grade < 60] * n})


def test_shadow_rows_are_stored_but_never_reported(engine) -> None:
    frame = semester_frame(S1, 30)
    upload(engine, S1, frame, grades=False)
    ids = frame["user_id"].tolist()
    at = utcnow()  # the same instant for both runs: the role alone must keep them apart
    record_predictions(engine, S1, _predictions(ids, 70.0), "v1", at)
    assert record_predictions(engine, S1, _predictions(ids, 40.0), "v2", at, role="shadow") == 30
    report = list(iter_report(engine, S1))
    assert len(report) == 30 and {r["model_version"] for r in report} == {"v1"}
    assert {r["prediction_final_grade"] for r in report} == {70.0}
    (overview,) = semester_overview(engine)
    assert overview.at_risk == 0  # the shadow's 30 at-risk students are not counted
    shadow = load_latest_predictions(engine, S1, role="shadow")
    assert set(shadow["model_version"]) == {"v2"} and len(shadow) == 30
    assert set(load_latest_predictions(engine, S1)["model_version"]) == {"v1"}
    with engine.connect() as conn:
        roles = conn.execute(sa.select(grade_predictions.c.role, sa.func.count())
                             .group_by(grade_predictions.c.role)).all()
    assert dict(roles) == {"champion": 30, "shadow": 30}


def test_an_unknown_role_is_refused(engine) -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        record_predictions(engine, S1, _predictions(["a"], 50.0), "v1", utcnow(), role="other")
