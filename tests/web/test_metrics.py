"""``GET /metrics``: parsed with prometheus-client's own parser; the counts follow real requests,
through the test client and through a real waitress server with many threads at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from gradewatch.semesters import Period
from tests.support.csvdata import PERIOD, student_rows, to_csv, upload
from tests.support.pages import predict_everyone, train_champion
from tests.support.server import running_server

SEMESTER = Period.from_key(f"{PERIOD['start_date_period']}_{PERIOD['end_date_period']}")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: FlaskClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_counters_move_with_real_requests_and_uploads(client: FlaskClient, upload_token: str) -> None:
    before = scrape(client)
    assert value(before, "gradewatch_database_up") == 1
    assert value(before, "gradewatch_uploads_total", source="api", mode="reports") == 0
    assert not [k for k in before if k[0] == "gradewatch_champion_info"]

    rows = student_rows(6)
    rows[2]["attendance_rate"] = "lots"  # one rejected row
    assert upload(client, upload_token, to_csv(rows)).status_code == 200
    assert upload(client, upload_token, b"").status_code == 400
    assert client.get("/no/such/page/123").status_code == 404
    after = scrape(client)

    route = {"method": "POST", "route": "/update-csv"}
    assert value(after, "gradewatch_http_requests_total", **route, status="200") == 1
    assert value(after, "gradewatch_http_requests_total", **route, status="400") == 1
    assert value(after, "gradewatch_http_request_duration_seconds_count", **route) == 2
    assert value(after, "gradewatch_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert value(after, "gradewatch_http_requests_total", method="GET", route="/metrics", status="200") == 1
    assert value(after, "gradewatch_uploads_total", source="api", mode="reports") == 1
    rows_of = {"source": "api", "mode": "reports"}
    assert value(after, "gradewatch_upload_rows_total", **rows_of, outcome="received") == 6
    assert value(after, "gradewatch_upload_rows_total", **rows_of, outcome="inserted") == 5
    assert value(after, "gradewatch_upload_rows_total", **rows_of, outcome="rejected") == 1
    assert value(after, "gradewatch_open_semesters") == 1
    assert not [k for k in after if k[0] == "gradewatch_predictions_age_seconds"]  # never predicted


def test_champion_and_the_age_of_open_semesters_predictions(
    client: FlaskClient, upload_token: str, engine: Engine
) -> None:
    rows = student_rows(4)
    assert upload(client, upload_token, to_csv(rows)).status_code == 200
    version = train_champion(engine)
    predict_everyone(engine, SEMESTER, [str(r["user_id"]) for r in rows])
    found = scrape(client)
    assert value(found, "gradewatch_champion_info", version=version) == 1
    age = value(found, "gradewatch_predictions_age_seconds", semester=SEMESTER.key)
    assert 0 <= age < 3600


@pytest.mark.slow
def test_exact_counts_under_waitress_threads(database_url: str, tmp_path: Path) -> None:
    calls = 200
    with running_server(database_url, tmp_path, threads=8) as base:
        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(lambda _: requests.get(f"{base}/health", timeout=30).status_code, range(calls)))
        assert codes == [200] * calls
        found = samples(requests.get(f"{base}/metrics", timeout=30).text)
    # running_server polled /health until the server first answered: that one call counts too.
    health = value(found, "gradewatch_http_requests_total", method="GET", route="/health", status="200")
    histogram = value(found, "gradewatch_http_request_duration_seconds_count", method="GET", route="/health")
    assert health == histogram == calls + 1
    assert value(found, "gradewatch_http_request_duration_seconds_bucket", method="GET", route="/health",
                 le="+Inf") == histogram
