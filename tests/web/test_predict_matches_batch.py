"""POST /predict and the batch pipeline give a student the same prediction.

Both clean the rows against the same reference (the training statistics stored with the
champion), so a missing or implausible value is imputed identically on both paths. The batch
side is a real materialization of ``grade_predictions`` on a real Dagster instance; the champion
is trained by the real retraining decision; both backends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from gradewatch.storage.tables import grade_predictions
from gradewatch_assets.jobs import evaluation_job, semester_job
from gradewatch_assets.resources import GradewatchResource
from tests.support.materialize import metadata, run
from tests.support.semesters import S1, S2, semester_frame, upload

pytestmark = pytest.mark.slow

COMPARED = ["predicted_grade", "interval_lower", "interval_upper", "probability_below_pass"]


def damaged_semester() -> pd.DataFrame:
    """A semester whose rows miss values or hold implausible ones, which cleaning imputes."""
    frame = semester_frame(S2, 80)
    frame["attendance_rate"] = frame["attendance_rate"].astype(object)
    frame.loc[0:9, "attendance_rate"] = None  # missing
    frame.loc[10:14, "attendance_rate"] = 250  # out of range
    frame.loc[15:19, "study_hours_per_week"] = -5  # a sentinel
    frame.loc[20:24, "parental_support"] = None
    frame.loc[25:29, "previous_grade"] = 180
    return frame


def test_predict_endpoint_and_batch_agree_on_damaged_rows(engine, instance, client, database_url,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADEWATCH_TRAINING_PROFILE", "quick")
    gradewatch = GradewatchResource(database_url=database_url)
    upload(engine, S1, semester_frame(S1, 300), grades=True)
    assert metadata(run(evaluation_job, S1.key, instance, gradewatch), "trained_model")["decision"] == "first_model"

    rows = damaged_semester()
    upload(engine, S2, rows, grades=False)
    batch_run = run(semester_job, S2.key, instance, gradewatch)
    assert metadata(batch_run, "grade_predictions")["students_predicted"] == len(rows)
    with engine.connect() as conn:
        batch = pd.DataFrame(conn.execute(sa.select(grade_predictions)).mappings().all())

    body = rows.drop(columns=["final_grade"]).to_csv(index=False)
    response = client.post("/predict", data=body, content_type="text/csv", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.json
    served = pd.DataFrame(response.json["predictions"])
    assert not response.json["errors"]

    both = batch.merge(served, on="user_id", suffixes=("_batch", "_served"))
    assert len(both) == len(rows)
    for column in COMPARED:
        np.testing.assert_allclose(both[f"{column}_served"], both[f"{column}_batch"], rtol=0, atol=1e-9,
                                   err_msg=column)
