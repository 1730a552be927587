"""Must hold (issue 15), through a real web server and a real Dagster instance, on both backends.

A semester is uploaded, predicted, uploaded again with lower attendance for some students and
predicted again. The students whose lower attendance pushed them over the threshold are
``newly_at_risk`` with attendance as their first reason; each has a history of two predictions,
via ``GET /history`` and on the student page. Only the report download, /history and the page
are read: what a teacher would see.
"""

from __future__ import annotations

import csv
import io

import dagster as dg
import pytest
import requests

from gradewatch.storage.tokens import create_token
from gradewatch_assets.definitions import ASSETS
from gradewatch_assets.jobs import evaluation_job, semester_job
from gradewatch_assets.resources import GradewatchResource
from tests.support.semesters import S1, S2, semester_frame
from tests.support.server import running_server

pytestmark = pytest.mark.slow
LOW_ATTENDANCE = 35.0


def materialize(job, period, instance, database_url: str) -> None:
    instance.add_dynamic_partitions("semester", [period.key])
    result = dg.materialize(ASSETS, selection=job.selection, partition_key=period.key, instance=instance,
                            resources={"gradewatch": GradewatchResource(database_url=database_url)})
    assert result.success


def test_lower_attendance_makes_students_newly_at_risk_with_attendance_first(
        database_url, engine, instance, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRADEWATCH_TRAINING_PROFILE", "quick")
    token = create_token(engine, "teacher", frozenset({"upload", "report"}))
    headers = {"Authorization": f"Bearer {token}"}
    graded, current = semester_frame(S1, 600), semester_frame(S2, 300)
    # Plain http on 127.0.0.1: the session cookie may travel without the Secure flag.
    with running_server(database_url, tmp_path, {"GRADEWATCH_SESSION_COOKIE_SECURE": "0"}) as base:
        def post(period, frame):
            form = {"start_date_period": period.start.isoformat(), "end_date_period": period.end.isoformat()}
            answer = requests.post(f"{base}/update-csv", headers=headers, data=form, timeout=60,
                                   files={"file": ("x.csv", frame.to_csv(index=False).encode())})
            assert answer.status_code == 200, answer.text

        def report() -> dict[str, dict[str, str]]:
            answer = requests.get(f"{base}/get-report", headers=headers, timeout=60, params={
                "start_date_period": S2.start.isoformat(), "end_date_period": S2.end.isoformat()})
            assert answer.status_code == 200, answer.text
            return {r["user_id"]: r for r in csv.DictReader(io.StringIO(answer.text))}

        post(S1, graded)
        materialize(evaluation_job, S1, instance, database_url)  # the first model
        post(S2, current.drop(columns=["final_grade"]))
        materialize(semester_job, S2, instance, database_url)
        first = report()
        # Students comfortably passing, then with far fewer classes attended.
        passing = [u for u, r in first.items() if r["at_risk"] == "False" and float(r["prediction_final_grade"]) < 75]
        assert len(passing) >= 20
        changed = set(passing[:40])
        later = current.drop(columns=["final_grade"]).copy()
        later.loc[later["user_id"].isin(changed), "attendance_rate"] = LOW_ATTENDANCE
        post(S2, later)
        materialize(semester_job, S2, instance, database_url)
        second = report()

        newly = {u for u, r in second.items() if r["newly_at_risk"] == "True"}
        crossed = {u for u in changed if second[u]["at_risk"] == "True"}
        assert crossed and newly == crossed  # exactly the students who crossed, nobody else
        for user_id in changed:
            row = second[user_id]
            assert row["reasons"].startswith(f"attendance_rate {LOW_ATTENDANCE:.0f} (typical "), row["reasons"]
            effect = float(row["reasons"].split("): ")[1].split(" points")[0])
            assert effect < 0 and "(actionable)" in row["reasons"].split(";")[0]
            assert float(row["change_in_probability"]) > 0
            assert row["previous_probability_below_pass"] == first[user_id]["probability_below_pass"]
        assert "gender" not in "".join(r["reasons"] for r in second.values())

        student = sorted(crossed)[0]
        history = requests.get(f"{base}/history", headers=headers, timeout=60, params={
            "user_id": student, "start_date_period": S2.start.isoformat(),
            "end_date_period": S2.end.isoformat()}).json()
        assert history["total"] == 2
        newest, oldest = history["predictions"]
        assert newest["predicted_at"] > oldest["predicted_at"]
        assert newest["at_risk"] and not oldest["at_risk"]
        assert newest["reasons"][0]["feature"] == "attendance_rate" and newest["reasons"][0]["effect"] < 0

        session = requests.Session()
        sign_in = session.get(f"{base}/sign-in", timeout=30).text
        csrf = sign_in.split('name="csrf_token" value="')[1].split('"')[0]
        assert session.post(f"{base}/sign-in", data={"token": token, "csrf_token": csrf}, timeout=30).ok
        page = session.get(f"{base}/reports/{S2.key}/students/{student}", timeout=30)
        assert page.status_code == 200
        assert page.text.count('<tr><th scope="row">') == 2
        assert f"attendance_rate {LOW_ATTENDANCE:.0f} (typical" in page.text
        semester_page = session.get(f"{base}/reports/{S2.key}", params={"newly": "1"}, timeout=30).text
        assert f'<li data-count="newly_at_risk"><strong>{len(crossed)}</strong>' in semester_page
