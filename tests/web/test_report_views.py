"""GET /history, the report's new columns, the semester report page with filters, the student
page and the filtered download, through the Flask test client on both backends."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from gradewatch.reports import REPORT_HEADER
from gradewatch.storage.tables import alerts, grade_predictions, student_reports, uploads
from gradewatch.storage.tokens import create_token
from tests.support.pages import sign_in
from tests.support.report_runs import FIRST, SEMESTER, two_prediction_runs

PERIOD = {"start_date_period": SEMESTER.start.isoformat(), "end_date_period": SEMESTER.end.isoformat()}
FORMULA_REASON = [{"feature": "=cmd|' /C calc'!A0", "value": "@x", "typical": "+y", "effect": -3.0,
                   "actionable": False}]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def table(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def stored_counts(engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (grade_predictions, uploads, alerts, student_reports))


def test_history_needs_the_report_scope_and_writes_nothing(client, engine) -> None:
    two_prediction_runs(engine)
    uploader = create_token(engine, "uploader", frozenset({"upload"}))
    before = stored_counts(engine)
    query = {**PERIOD}
    assert client.get("/history", query_string=query).status_code == 401
    assert client.get("/history", query_string=query, headers=bearer("not-a-token")).status_code == 401
    refused = client.get("/history", query_string=query, headers=bearer(uploader))
    assert refused.status_code == 403 and "report" in refused.json["error"]
    assert stored_counts(engine) == before


def test_history_filters_pages_and_refuses_unclear_queries(client, engine, report_token) -> None:
    ids = two_prediction_runs(engine)
    get = lambda **q: client.get("/history", query_string=q, headers=bearer(report_token))  # noqa: E731
    assert get(role="champion").status_code == 400 and "must name a semester" in get().json["error"]
    assert get(user_id=ids[0], role="boss").status_code == 400
    assert get(user_id=ids[0], **{"from": "2025-03-20", "to": "2025-03-01"}).status_code == 400
    assert get(user_id=ids[0], limit="0").status_code == 400
    everything = get(**PERIOD).json
    assert everything["total"] == 12 and everything["next_offset"] is None
    times = [p["predicted_at"] for p in everything["predictions"]]
    assert times == sorted(times, reverse=True)
    student = get(user_id=ids[0], role="champion").json
    assert [round(p["probability_below_pass"], 2) for p in student["predictions"]] == [0.6, 0.1]
    assert student["predictions"][0]["reasons"][0]["feature"] == "attendance_rate"
    first_day = get(**PERIOD, **{"from": FIRST.date().isoformat(), "to": FIRST.date().isoformat()}).json
    assert first_day["total"] == 5
    shadow = get(**PERIOD, role="shadow").json
    assert shadow["total"] == 1 and shadow["predictions"][0]["role"] == "shadow"
    page = get(**PERIOD, limit="5", offset="5").json
    assert len(page["predictions"]) == 5 and page["next_offset"] == 10


def test_report_columns_are_documented_and_filled(client, engine, report_token) -> None:
    ids = two_prediction_runs(engine)
    body = client.get("/get-report", query_string=PERIOD, headers=bearer(report_token)).get_data()
    rows = table(body)
    assert list(rows[0]) == list(REPORT_HEADER)
    by_id = {r["user_id"]: r for r in rows}
    assert by_id[ids[0]]["risk_tier"] == "high" and by_id[ids[0]]["newly_at_risk"] == "True"
    assert by_id[ids[0]]["change_in_probability"] == "0.5"
    assert by_id[ids[0]]["reasons"] == "attendance_rate 61 (typical 84): -7.5 points (actionable)"
    assert by_id[ids[3]]["change_in_probability"] == "-0.55" and by_id[ids[3]]["risk_tier"] == "low"
    document = client.get("/openapi.json").json
    described = document["paths"]["/get-report"]["get"]["responses"]["200"]["description"]
    assert all(column in described for column in REPORT_HEADER[-10:])
    assert document["paths"]["/history"]["get"]["security"] == [{"bearer": ["report"]}]


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"tier": "high"}, {0, 2, 5}), ({"tier": "moderate"}, {1, 4}), ({"tier": "low"}, {3}),
    ({"at_risk": "1"}, {0, 2, 5}), ({"newly": "1"}, {0}), ({"tier": "low", "at_risk": "1"}, set()),
])
def test_filters_on_the_page_and_in_the_download_name_the_same_rows(
        client, engine, report_token, arguments, expected) -> None:
    ids = two_prediction_runs(engine)
    sign_in(client, report_token)
    page = client.get(f"/reports/{SEMESTER.key}", query_string=arguments)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = {i for i, user_id in enumerate(ids) if f'data-user-id="{user_id}"' in html}
    assert shown == expected
    download = client.get("/reports/download", query_string={**PERIOD, **arguments})
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert {r["user_id"] for r in table(download.get_data())} == {ids[i] for i in expected}
    assert "/reports/download?" in html and all(f"{k}={v}" in html for k, v in arguments.items())


def test_full_download_is_the_api_report_and_filtered_cells_are_inert(client, engine, report_token) -> None:
    two_prediction_runs(engine, reasons=[FORMULA_REASON] * 6)
    sign_in(client, report_token)
    full = client.get("/reports/download", query_string=PERIOD).get_data()
    assert full == client.get("/get-report", query_string=PERIOD, headers=bearer(report_token)).get_data()
    filtered = table(client.get("/reports/download", query_string={**PERIOD, "tier": "high"}).get_data())
    assert filtered and all(r["reasons"].startswith("'=cmd") for r in filtered)
    assert client.get("/reports/download", query_string={**PERIOD, "tier": "urgent"}).status_code == 400


def test_reports_page_counts_tiers_and_links_at_risk_students(client, engine, report_token) -> None:
    ids = two_prediction_runs(engine)
    sign_in(client, report_token)
    overview = client.get("/reports").get_data(as_text=True)
    assert 'data-tier="high">high 3<' in overview and 'data-tier="moderate">moderate 2<' in overview
    assert 'data-tier="low">low 1<' in overview and "1 newly at risk" in overview
    page = client.get(f"/reports/{SEMESTER.key}").get_data(as_text=True)
    assert '<li data-count="newly_at_risk"><strong>1</strong>' in page
    assert "<svg" in page and "oldest first: 2 → 3." in page and "<script" not in page
    for i in (0, 2, 5):
        assert f'/reports/{SEMESTER.key}/students/{ids[i]}"' in page
    assert f'/reports/{SEMESTER.key}/students/{ids[3]}"' not in page  # low risk: no link


def test_student_page_shows_the_timeline_reasons_and_uploaded_indicators(client, engine, report_token) -> None:
    ids = two_prediction_runs(engine)
    sign_in(client, report_token)
    page = client.get(f"/reports/{SEMESTER.key}/students/{ids[0]}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "attendance_rate 61 (typical 84): -7.5 points (actionable)" in html
    assert "oldest first: 10% → 60%." in html and html.count("<tr><th scope=\"row\">") == 2
    assert "<dt>attendance_rate</dt>" in html and "shadow-v" not in html
    assert client.get(f"/reports/{SEMESTER.key}/students/nobody").status_code == 404
    assert client.get("/reports/not-a-semester/students/x").status_code == 404


def test_student_and_semester_pages_need_the_report_scope(client, engine) -> None:
    ids = two_prediction_runs(engine)
    sign_in(client, create_token(engine, "uploader", frozenset({"upload"})))
    assert client.get(f"/reports/{SEMESTER.key}/students/{ids[0]}").status_code == 403
    assert client.get(f"/reports/{SEMESTER.key}").status_code == 403
