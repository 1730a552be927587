"""The web pages through Flask's test client, on SQLite and PostgreSQL (issue 8).

Browser behaviour (downloads, keyboard, what the page loads) is in test_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest
import sqlalchemy as sa

from gradewatch.semesters import Period
from gradewatch.storage import tables
from gradewatch.storage.reports import count_rows
from gradewatch.storage.tokens import create_token, revoke_token
from tests.support.csvdata import PERIOD, student_rows, to_csv
from tests.support.pages import (
    csrf_of,
    fill_monitoring,
    payload_of,
    predict_everyone,
    sign_in,
    train_champion,
)
from webapp.request_logging import init_request_logging

SEMESTER = Period.from_key(f"{PERIOD['start_date_period']}_{PERIOD['end_date_period']}")
PII_NAME = "Zelda Quintanilla-Obst"


def upload_page(client, csrf: str, content: bytes, period: dict[str, str] | None = None, **extra):
    data = {**(PERIOD if period is None else period), "csrf_token": csrf,
            "file": (io.BytesIO(content), "export.csv"), **extra}
    return client.post("/upload", data=data, content_type="multipart/form-data")


def file_with_errors() -> tuple[bytes, list[dict[str, object]]]:
    """Eight students with a Name column; rows 3, 6 and 8 (spreadsheet numbering) are bad."""
    rows = [{**r, "Name": f"{PII_NAME} {i}"} for i, r in enumerate(student_rows(7))]
    rows[1]["attendance_rate"] = "ninety"  # row 3
    rows[4]["user_id"] = ""  # row 6
    rows[6]["study_hours_per_week"] = "=1+1"  # row 8: not a number, and a formula
    return to_csv(rows), rows


def table_rows(engine, table: sa.Table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def all_stored_text(engine) -> str:
    return "\n".join(str(v) for t in tables.metadata.sorted_tables
                     for row in table_rows(engine, t) for v in row.values() if v is not None)


# --- start, sign-in, sign-out -------------------------------------------------------------


def test_start_page_is_public_html_with_strict_headers(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page and 'href="#main"' in page
    assert "Sign in with your token" in page
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    css = client.get("/static/gradewatch.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


@pytest.mark.parametrize("path", ["/upload", "/reports", "/model-status", "/reports/download"])
def test_pages_for_staff_send_strangers_to_sign_in(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/sign-in?next={path}"


def test_sign_in_keeps_a_digest_in_a_secure_http_only_cookie(app, client, upload_token) -> None:
    form = client.get("/sign-in").get_data(as_text=True)
    response = client.post("/sign-in", data={"token": upload_token, "csrf_token": csrf_of(form),
                                             "next": "/reports"})
    assert response.status_code == 302 and response.headers["Location"] == "/reports"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    session = app.session_interface.get_signing_serializer(app).loads(value)
    assert upload_token not in str(session)  # only the sha256: a copied cookie is no API token
    assert len(session["token_sha256"]) == 64
    page = client.get("/reports").get_data(as_text=True)
    assert "Signed in as <strong>registrar</strong>" in page


def test_secure_cookie_flag_can_be_turned_off_for_plain_http(settings, engine, upload_token) -> None:
    from webapp import create_app

    app = create_app(settings.with_overrides(session_cookie_secure=False), engine=engine)
    client = app.test_client()
    form = client.get("/sign-in").get_data(as_text=True)
    response = client.post("/sign-in", data={"token": upload_token, "csrf_token": csrf_of(form)})
    assert response.status_code == 302
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("token", ["", "gw_not-a-real-token"])
def test_a_wrong_token_gets_a_readable_refusal(client, token: str) -> None:
    form = client.get("/sign-in").get_data(as_text=True)
    response = client.post("/sign-in", data={"token": token, "csrf_token": csrf_of(form)})
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and 'aria-invalid="true"' in page
    assert ("Paste your token" if not token else "not valid or has been revoked") in page
    assert client.get("/upload").status_code == 302


def test_the_token_never_reaches_the_log(app, client, upload_token, caplog) -> None:
    init_request_logging(app)  # as the server does; a no-op once create_app does it
    caplog.set_level(logging.DEBUG)
    sign_in(client, upload_token)
    client.get("/reports")
    assert caplog.records, "the requests were not logged at all"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert upload_token not in logged


def test_revoking_the_token_ends_the_session_at_the_next_click(client, engine, upload_token) -> None:
    sign_in(client, upload_token)
    assert client.get("/upload").status_code == 200
    revoke_token(engine, "registrar")
    response = client.get("/upload")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/upload&ended=1")
    assert "Your sign-in has ended" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_sign_out_forgets_the_session(client, upload_token) -> None:
    csrf = sign_in(client, upload_token)
    response = client.post("/sign-out", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert "You are signed out" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/upload").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/phish", "/\\evil.example", "https://evil.example/"])
def test_sign_in_does_not_redirect_to_another_site(client, upload_token, target: str) -> None:
    form = client.get("/sign-in").get_data(as_text=True)
    response = client.post("/sign-in", data={"token": upload_token, "csrf_token": csrf_of(form),
                                             "next": target})
    assert response.headers["Location"] == "/"


# --- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [None, "forged-token"])
def test_an_upload_without_the_csrf_token_is_refused_and_stores_nothing(
    client, engine, upload_token, sent: str | None
) -> None:
    sign_in(client, upload_token)
    data = {**PERIOD, "file": (io.BytesIO(to_csv(student_rows(3))), "export.csv")}
    if sent is not None:
        data["csrf_token"] = sent
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "This form cannot be accepted" in response.get_data(as_text=True)
    assert count_rows(engine) == 0
    assert table_rows(engine, tables.uploads) == []


@pytest.mark.parametrize("path", ["/sign-in", "/sign-out", "/predict-csv", "/upload/rejected-rows.csv"])
def test_every_form_checks_the_csrf_token(client, upload_token, path: str) -> None:
    sign_in(client, upload_token)
    response = client.post(path, data={"token": upload_token, "rows": "{}"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_the_bearer_api_needs_no_csrf_token(client, upload_token) -> None:
    response = client.post("/update-csv", data={**PERIOD, "file": (io.BytesIO(to_csv(student_rows(2))),
                                                                   "a.csv")},
                           headers={"Authorization": f"Bearer {upload_token}"},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and response.json["inserted"] == 2


# --- upload -------------------------------------------------------------------------------


def test_upload_page_shows_counts_dropped_columns_and_row_errors(client, engine, upload_token) -> None:
    csrf = sign_in(client, upload_token)
    content, _ = file_with_errors()
    response = upload_page(client, csrf, content)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<dd id="count-inserted">4</dd>' in page
    assert '<dd id="count-rejected">3</dd>' in page
    assert "Columns removed for privacy" in page and "<strong>Name</strong>" in page
    assert PII_NAME not in page  # the dropped column's cells are not even echoed back
    for row, column in ((3, "attendance_rate"), (6, "user_id"), (8, "study_hours_per_week")):
        assert f'<td class="num">{row}</td><td>{column}</td>' in page
    assert count_rows(engine, SEMESTER) == 4
    (audit,) = table_rows(engine, tables.uploads)
    assert (audit["source"], audit["token_name"], audit["rows_rejected"]) == ("web", "registrar", 3)


def test_rejected_rows_download_holds_exactly_the_rejected_rows(client, engine, upload_token) -> None:
    csrf = sign_in(client, upload_token)
    content, rows = file_with_errors()
    page = upload_page(client, csrf, content).get_data(as_text=True)
    response = client.post("/upload/rejected-rows.csv",
                           data={"csrf_token": csrf, "rows": json.dumps(payload_of(page))})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="rejected-rows.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["source_row"] for r in table] == ["3", "6", "8"]
    assert [r["user_id"] for r in table] == [rows[1]["user_id"], "", rows[6]["user_id"]]
    assert table[0]["attendance_rate"] == "ninety"
    assert table[2]["study_hours_per_week"] == "'=1+1"  # inert in a spreadsheet
    assert "attendance_rate: not a number" in table[0]["problems"]
    assert "Name" not in table[0]  # the columns dropped for privacy stay dropped
    assert PII_NAME not in response.get_data(as_text=True)


def test_rejected_rows_are_stored_nowhere_and_fixed_rows_upload_cleanly(
    app, client, engine, upload_token, caplog
) -> None:
    init_request_logging(app)
    caplog.set_level(logging.DEBUG)
    csrf = sign_in(client, upload_token)
    content, _rows = file_with_errors()
    payload = payload_of(upload_page(client, csrf, content).get_data(as_text=True))
    stored = all_stored_text(engine)
    assert "ninety" not in stored and "=1+1" not in stored and PII_NAME not in stored
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "the requests were not logged at all"
    assert "ninety" not in logged and PII_NAME not in logged
    # Fix the two rows that have an id, as a registrar would, and upload them again.
    header = payload["header"]
    fixed = [dict(zip(header, r, strict=True)) for r in payload["rows"] if r[0]]
    fixed[0]["attendance_rate"], fixed[1]["study_hours_per_week"] = "90", "4"
    again = upload_page(client, csrf, to_csv(fixed)).get_data(as_text=True)
    assert '<dd id="count-inserted">2</dd>' in again and '<dd id="count-rejected">0</dd>' in again
    assert "<strong>source_row, problems</strong>" in again
    assert count_rows(engine, SEMESTER) == 6


@pytest.mark.parametrize(("period", "content", "message"), [
    ({"start_date_period": "2026-06-30", "end_date_period": "2026-01-12"}, None, "were they swapped?"),
    ({"start_date_period": "", "end_date_period": "2026-06-30"}, None, "start_date_period"),
    (None, b"Name,Email\nAnn,a@example.org\n", "None of the columns"),
    (None, b"user_id,gender\ns1,F\n", "missing the required column"),
])
def test_a_refused_upload_says_why_and_stores_nothing(
    client, engine, upload_token, period, content, message: str
) -> None:
    csrf = sign_in(client, upload_token)
    response = upload_page(client, csrf, content or to_csv(student_rows(3)), period)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was stored." in page and message in page and 'role="alert"' in page
    assert count_rows(engine) == 0


def test_a_report_only_token_cannot_upload(client, report_token) -> None:
    sign_in(client, report_token)
    response = client.get("/upload")
    assert response.status_code == 403
    assert "Ask IT for a token with the “upload” scope" in response.get_data(as_text=True)


# --- reports ------------------------------------------------------------------------------


def test_reports_page_says_not_ready_then_offers_the_same_csv_as_the_api(
    client, engine, upload_token
) -> None:
    csrf = sign_in(client, upload_token)
    rows = student_rows(6)
    upload_page(client, csrf, to_csv(rows))
    page = client.get("/reports").get_data(as_text=True)
    assert "Not ready" in page and "/reports/download" not in page
    assert client.get("/reports/download", query_string=PERIOD).status_code == 404

    predict_everyone(engine, SEMESTER, [r["user_id"] for r in rows])
    page = client.get("/reports").get_data(as_text=True)
    assert "Ready" in page and "Not ready" not in page
    assert '<td data-label="Students" class="num">6</td>' in page
    assert '<td data-label="At risk" class="num">4</td>' in page  # 45, 55, 45, 55
    download = client.get("/reports/download", query_string=PERIOD)
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    body = download.get_data()  # a streamed body: read it before the next request
    api = client.get("/get-report", query_string=PERIOD, headers={"Authorization": f"Bearer {upload_token}"})
    assert body == api.get_data()
    assert len(list(csv.DictReader(io.StringIO(body.decode())))) == 6


def test_report_download_needs_the_report_scope(client, engine) -> None:
    token = create_token(engine, "uploader", frozenset({"upload"}))
    csrf = sign_in(client, token)
    rows = student_rows(2)
    upload_page(client, csrf, to_csv(rows))
    predict_everyone(engine, SEMESTER, [r["user_id"] for r in rows])
    page = client.get("/reports").get_data(as_text=True)
    assert "/reports/download" not in page and "may not download reports" in page
    assert client.get("/reports/download", query_string=PERIOD).status_code == 403


# --- model status -------------------------------------------------------------------------


def test_model_page_with_empty_tables(client, report_token) -> None:
    sign_in(client, report_token)
    page = client.get("/model-status").get_data(as_text=True)
    assert "No model trained yet" in page
    assert "No accuracy measured yet" in page
    assert "No drift measured yet" in page


def test_model_page_shows_champion_accuracy_and_drift_charts(client, engine, report_token) -> None:
    version = train_champion(engine)
    fill_monitoring(engine, version)
    sign_in(client, report_token)
    page = client.get("/model-status").get_data(as_text=True)
    assert f'<dd id="champion-version">{version}</dd>' in page
    assert "2025-01-13 to 2025-06-27; 2025-08-25 to 2025-12-19" in page
    assert "Mean absolute error (cross-validated" in page
    assert page.count(f"{version} (in use)") == 2  # one accuracy row per semester
    assert page.count("<svg") == 3  # one chart per feature
    assert page.count('class="bar-drift') == 1  # attendance drifted in the latest semester only
    assert "Latest (2025-08-25 to 2025-12-19):\n              <strong>drifted</strong>" in page
    assert "not tested, too few rows" in page


# --- predict ------------------------------------------------------------------------------


def test_predict_page_without_a_model_says_so(client) -> None:
    page = client.get("/predict-csv").get_data(as_text=True)
    assert "No model trained yet" in page and "Nothing is stored." in page
    csrf = csrf_of(page)
    response = client.post("/predict-csv", data={"csrf_token": csrf, "file": (
        io.BytesIO(to_csv(student_rows(2))), "mine.csv")}, content_type="multipart/form-data")
    assert response.status_code == 503
    assert "No model has been trained yet" in response.get_data(as_text=True)


def test_anyone_can_predict_and_nothing_is_stored(client, engine) -> None:
    version = train_champion(engine)
    before = {t.name: table_rows(engine, t) for t in tables.metadata.sorted_tables}
    csrf = csrf_of(client.get("/predict-csv").get_data(as_text=True))  # not signed in
    rows = [{**r, "Name": PII_NAME} for r in student_rows(12)]
    rows[2]["attendance_rate"] = "lots"
    response = client.post("/predict-csv", data={"csrf_token": csrf, "file": (
        io.BytesIO(to_csv(rows)), "mine.csv")}, content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"11 of 12 row(s) predicted with model {version}" in page
    assert '<td class="num">4</td><td>attendance_rate</td>' in page
    assert "<strong>Name</strong>" in page and "never used, logged or saved" in page
    download = client.post("/predict-csv/predictions.csv", data={
        "csrf_token": csrf, "rows": json.dumps(payload_of(page))})
    table = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert len(table) == 11 and {r["model_version"] for r in table} == {version}
    assert {r["user_id"] for r in table} == {r["user_id"] for i, r in enumerate(rows) if i != 2}
    assert all(0 <= float(r["predicted_grade"]) <= 100 for r in table)
    after = {t.name: table_rows(engine, t) for t in tables.metadata.sorted_tables}
    assert after == before


def test_predict_page_refuses_an_unreadable_file_readably(client, engine) -> None:
    train_champion(engine)
    csrf = csrf_of(client.get("/predict-csv").get_data(as_text=True))
    response = client.post("/predict-csv", data={"csrf_token": csrf, "file": (
        io.BytesIO(b"%PDF-1.7 not a csv"), "mine.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "This file is a PDF document, not a CSV text file" in response.get_data(as_text=True)


def test_errors_on_pages_are_html_not_json(client, upload_token) -> None:
    sign_in(client, upload_token)
    response = client.get("/reports/download", query_string={"start_date_period": "soon"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Which semester?" in response.get_data(as_text=True)


# --- the core functions under the pages -----------------------------------------------------


def test_semester_overview_counts_match_the_report(client, engine, upload_token) -> None:
    from gradewatch.storage.overview import semester_overview
    from gradewatch.storage.reports import report_ready

    csrf = sign_in(client, upload_token)
    rows = student_rows(8)
    older = {"start_date_period": "2025-08-25", "end_date_period": "2025-12-19"}
    upload_page(client, csrf, to_csv(rows))
    upload_page(client, csrf, to_csv(student_rows(3, prefix="o")), older)
    ids = [r["user_id"] for r in rows]
    predict_everyone(engine, SEMESTER, ids)  # 45, 55, 65, 75, ...: ids 0, 1, 4, 5 at risk
    predict_everyone(engine, SEMESTER, ids)  # a second run: the latest one counts, once
    grades = to_csv([{"user_id": ids[0], "final_grade": 50}, {"user_id": ids[2], "final_grade": 70}])
    upload_page(client, csrf, grades)
    newest, oldest = semester_overview(engine)
    assert (newest.period, oldest.period) == (SEMESTER, Period.from_key("2025-08-25_2025-12-19"))
    assert (newest.rows, newest.final_grades, newest.predicted, newest.report_rows) == (8, 2, 8, 6)
    assert newest.at_risk == 3  # ids 1, 4, 5: id 0 has its final grade now
    assert newest.grade_coverage == 0.25 and newest.predicted_at is not None
    assert newest.report_ready is report_ready(engine, SEMESTER) is True
    assert (oldest.rows, oldest.predicted, oldest.report_ready, oldest.predicted_at) == (3, 0, False, None)


def test_rejected_rows_follow_the_readers_row_numbers() -> None:
    from gradewatch.intake.reader import read_csv_bytes
    from gradewatch.intake.rejected_rows import rejected_rows

    text = ('StudentID;Name;Gender;AttendanceRate;StudyHoursPerWeek;PreviousGrade;'
            'ExtracurricularActivities;ParentalSupport\r\n'
            's1;"Ann\r\nSecond line";F;90;5;70;1;high\r\n'  # a quoted line break: still row 2
            '\r\n'  # a blank row 3
            's2;Bob;M;n/a;5;70;x;low\r\n'  # row 4: bad activity count
            's3;Zoë;F;80;5;70;1;medium\r\n'
            's4;Cy;M;80;-5;70;1;medium;extra\r\n')  # row 6: more cells than the header
    raw = text.encode("cp1252")
    parsed = read_csv_bytes(raw)
    rejected = rejected_rows(raw, parsed.errors)
    assert rejected.header == ["StudentID", "Gender", "AttendanceRate", "StudyHoursPerWeek",
                               "PreviousGrade", "ExtracurricularActivities", "ParentalSupport",
                               "source_row", "problems"]
    assert [r[-2] for r in rejected.rows] == [str(e.row) for e in parsed.errors] == ["4", "6"]
    assert rejected.rows[0][:7] == ["s2", "M", "n/a", "5", "70", "x", "low"]
    assert rejected.rows[1][0] == "s4" and "more cells" in rejected.rows[1][-1]
    assert rejected.complete


def test_a_too_large_upload_gets_a_readable_page(settings, engine, upload_token) -> None:
    from webapp import create_app

    app = create_app(settings.with_overrides(max_upload_mb=0.002), engine=engine)  # about 2 kB
    client = app.test_client()
    csrf = sign_in(client, upload_token)
    response = upload_page(client, csrf, to_csv(student_rows(100)))
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "larger than the 0.002 MB limit" in response.get_data(as_text=True)
    assert count_rows(engine) == 0
