"""POST /predict and GET /model with a real trained model, on both backends."""

from __future__ import annotations

import csv
import io

import pytest

from gradewatch.models.registry import promote, register_model
from gradewatch.models.scoring import OUTPUT_COLUMNS
from gradewatch.models.training import SearchConfig, train_model
from gradewatch.storage.reports import count_rows
from tests.support.csvdata import student_rows, to_csv
from tests.support.gradegen import make_semester

FAST = SearchConfig(families=("ridge",), n_iter=1, cv=3)


@pytest.fixture(scope="module")
def trained():
    return train_model(make_semester(600, seed=5), seed=0, config=FAST)


@pytest.fixture
def champion(engine, trained) -> str:
    version = register_model(engine, trained, ["2025-01-10_2025-06-30"])
    promote(engine, version)
    return version


def test_predict_is_503_until_a_model_exists(client) -> None:
    response = client.post("/predict", json=[{"user_id": "a", "gender": "F"}])
    assert response.status_code == 503
    assert "No model has been trained yet" in response.json["error"]


def test_predict_json_records(client, engine, champion) -> None:
    rows = student_rows(5)
    rows[2]["Name"] = "Ada Lovelace"  # identifying data is dropped, never echoed
    rows[4]["attendance_rate"] = "not a number"
    response = client.post("/predict", json=rows)
    assert response.status_code == 200
    body = response.json
    assert body["model_version"] == champion
    assert [p["user_id"] for p in body["predictions"]] == [r["user_id"] for r in rows[:4]]
    assert body["errors"][0]["row"] == 6
    assert body["dropped_columns"] == ["Name"]
    for p in body["predictions"]:
        assert 0 <= p["interval_lower"] <= p["predicted_grade"] <= p["interval_upper"] <= 100
        assert 0 <= p["probability_below_pass"] <= 1
    assert count_rows(engine) == 0  # nothing stored
    assert "Ada" not in response.get_data(as_text=True)


def test_predict_csv_in_and_out(client, champion) -> None:
    content = to_csv(student_rows(3), delimiter=";")
    response = client.post("/predict", data={"file": (io.BytesIO(content), "mine.csv")},
                           headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(table) == 3
    assert {r["model_version"] for r in table} == {champion}
    body = client.post("/predict", data=content, content_type="text/csv").json
    assert len(body["predictions"]) == 3


def test_predict_uses_the_same_cleaning_as_the_pipeline(client, champion) -> None:
    good = student_rows(1)[0]
    one_bad = {**good, "user_id": "one", "attendance_rate": 999}
    many_bad = {**good, "user_id": "many", "attendance_rate": 999, "study_hours_per_week": -5,
                "previous_grade": 999}
    body = client.post("/predict", json=[good, one_bad, many_bad]).json
    assert [p["user_id"] for p in body["predictions"]] == [good["user_id"], "one"]
    assert body["errors"] == [{"row": 4, "column": None,
                               "message": "too many missing or implausible values to predict this row"}]


def test_a_csv_answer_says_which_rows_were_left_out(client, champion) -> None:
    """The CSV answer has one line per scored row only: its headers say how many rows were read
    and which were left out (row numbers, never a value), so a rejected row is not lost silently."""
    rows = student_rows(5)
    rows[1]["attendance_rate"] = "not a number"
    rows[3]["user_id"] = ""
    response = client.post("/predict", data=to_csv(rows), content_type="text/csv", headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))) == 3
    assert (response.headers["X-Model-Version"], response.headers["X-Rows-Received"],
            response.headers["X-Rows-Predicted"], response.headers["X-Rows-Rejected"],
            response.headers["X-Rejected-Rows"]) == (champion, "5", "3", "2", "3,5")


@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
def test_rows_that_cannot_be_predicted_at_all_are_row_errors_not_a_500(client, champion, accept) -> None:
    # Found by schemathesis: a row with an id and nothing else left the model zero rows to score.
    response = client.post("/predict", json=[{"user_id": "0"}, {"user_id": "S2"}], headers={"Accept": accept})
    assert response.status_code == 200, response.get_data(as_text=True)
    if accept == "text/csv":
        assert response.get_data(as_text=True).splitlines() == [",".join(OUTPUT_COLUMNS)]
    else:
        assert response.json["predictions"] == []
        assert [e["row"] for e in response.json["errors"]] == [2, 3]


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"data": b"", "content_type": "text/csv"}, "empty"),
    ({"json": {"user_id": 1}}, "JSON list"),
    ({"data": b"hello", "content_type": "application/octet-stream"}, "Send a CSV file"),
])
def test_predict_bad_input_is_400(client, champion, kwargs, fragment) -> None:
    response = client.post("/predict", **kwargs)
    assert response.status_code == 400
    assert fragment in response.json["error"]


def test_model_endpoint_and_reload_on_promotion(client, engine, trained, champion) -> None:
    body = client.get("/model").json
    assert body["version"] == champion
    assert body["metrics"]
    newer = register_model(engine, trained, ["2025-01-10_2025-06-30", "2025-09-01_2026-01-20"])
    promote(engine, newer)
    assert client.get("/model").json["version"] == newer
    assert client.post("/predict", json=student_rows(1)).json["model_version"] == newer


def test_model_is_404_before_training(client) -> None:
    response = client.get("/model")
    assert response.status_code == 404
    assert "No model" in response.json["error"]
