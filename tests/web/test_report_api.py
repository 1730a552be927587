"""GET /get-report, GET /health, GET /openapi.json and JSON errors, on both backends."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pandas as pd
from openapi_spec_validator import validate

from gradewatch.semesters import Period
from gradewatch.storage.predictions import record_predictions
from tests.support.csvdata import PERIOD, student_rows, to_csv, upload
from tests.support.databases import head_revision

SEMESTER = Period.from_key(f"{PERIOD['start_date_period']}_{PERIOD['end_date_period']}")


def get_report(client, token: str, period=PERIOD):
    return client.get("/get-report", query_string=period, headers={"Authorization": f"Bearer {token}"})


def predict_all(engine, user_ids: list[str], grades: list[float]) -> None:
    frame = pd.DataFrame({
        "user_id": user_ids,
        "predicted_grade": grades,
        "interval_lower": [g - 10 for g in grades],
        "interval_upper": [g + 10 for g in grades],
        "probability_below_pass": [max(0.0, min(1.0, (70 - g) / 40)) for g in grades],
        "at_risk": [g < 60 for g in grades],
    })
    record_predictions(engine, SEMESTER, frame, "v-test", datetime.now(UTC))


def test_report_is_404_before_predictions(client, upload_token) -> None:
    upload(client, upload_token, to_csv(student_rows(5)))
    response = get_report(client, upload_token)
    assert response.status_code == 404
    assert response.json == {"error": "report for the given period is not ready"}


def test_report_lists_ungraded_students_riskiest_first(client, engine, upload_token) -> None:
    rows = student_rows(6)
    upload(client, upload_token, to_csv(rows))
    ids = [r["user_id"] for r in rows]
    predict_all(engine, ids, [80, 45, 65, 30, 90, 55])
    upload(client, upload_token, to_csv([{"user_id": ids[3], "final_grade": 33}]))  # now graded
    response = get_report(client, upload_token)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["user_id"] for r in table] == [ids[1], ids[5], ids[2], ids[0], ids[4]]
    assert ids[3] not in {r["user_id"] for r in table}
    assert table[0]["at_risk"] == "True" and table[0]["model_version"] == "v-test"
    assert {"interval_lower", "interval_upper", "prediction_final_grade", "gender"} <= set(table[0])


def test_report_cells_cannot_run_formulas(client, engine, upload_token) -> None:
    # Ids with quotes or spaces are refused at upload (GRADEWATCH_USER_ID_PATTERN); these pass it.
    formulas = ["=HYPERLINK(A1)", "@SUM(A1)", "+1+cmd|/C!A0", "-2+3"]
    rows = student_rows(len(formulas))
    for row, formula in zip(rows, formulas, strict=True):
        row["user_id"] = formula
    upload(client, upload_token, to_csv(rows))
    predict_all(engine, formulas, [40, 50, 60, 70])  # riskiest first: the report keeps this order
    text = get_report(client, upload_token).get_data(as_text=True)
    ids = [r["user_id"] for r in csv.DictReader(io.StringIO(text))]
    assert ids == ["'" + formula for formula in formulas]


def test_report_needs_report_scope_and_valid_dates(client, engine, upload_token) -> None:
    from gradewatch.storage.tokens import create_token

    uploader = create_token(engine, "uploader", frozenset({"upload"}))
    assert get_report(client, uploader).status_code == 403
    assert client.get("/get-report", query_string=PERIOD).status_code == 401
    bad = get_report(client, upload_token, {"start_date_period": "soon", "end_date_period": "2026-06-30"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json["error"]


def test_health_reports_database_and_model(client) -> None:
    body = client.get("/health").json
    assert body["database"]["ok"] is True
    assert body["database"]["revision"] == head_revision()
    assert body["model"] == {"ready": False}


def test_openapi_document_is_valid_and_complete(client) -> None:
    document = client.get("/openapi.json").json
    validate(document)
    # Every route of the API blueprint is described (the HTML pages are not part of the API).
    routes = {rule.rule for rule in client.application.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    assert routes and routes <= set(document["paths"])
    for path in ("/update-csv", "/get-report", "/predict", "/health", "/model", "/openapi.json", "/"):
        assert path in document["paths"]


def test_errors_are_json(app) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert client.get("/no/such/page").json["error"]
    response = client.delete("/health")
    assert response.status_code == 405 and response.json["error"]
    response = client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "nothing was changed" in response.json["error"]


def test_unreachable_database_is_503_not_500(settings, tmp_path) -> None:
    from gradewatch.storage import make_engine
    from webapp import create_app

    down = make_engine("postgresql://nobody@127.0.0.1:1/none")
    client = create_app(settings, engine=down).test_client()
    response = client.get("/get-report", query_string=PERIOD, headers={"Authorization": "Bearer gw_x"})
    assert response.status_code == 503
    assert "database cannot be reached" in response.json["error"]
    assert client.get("/health").status_code == 503
