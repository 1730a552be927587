"""End to end: the real Dagster daemon and the real web app, talking to PostgreSQL.

Semesters are uploaded over HTTP; the daemon's sensors must produce predictions, the report
must download, and the evaluation must run, within a bounded time. A backfill of three
semester partitions, launched as from the UI (``dagster job backfill``), must complete.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from gradewatch.models.registry import champion_version
from gradewatch.storage import make_engine
from gradewatch.storage.tokens import create_token
from gradewatch_assets.instance import prepare_dagster_home
from tests.support.semesters import S1, S2, S3, semester_frame
from tests.support.server import running_server

pytestmark = pytest.mark.slow
DEADLINE_SECONDS = 420


def _executable(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _wait_for(what: str, check, timeout: float = DEADLINE_SECONDS, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(3)
    detail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{detail}")


def _runs(home: Path, job: str, status: dg.DagsterRunStatus | None = None) -> list:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        filters = dg.RunsFilter(job_name=job, statuses=[status] if status else None)
        return list(instance.get_runs(filters=filters))


def test_daemon_and_web_app_run_the_lifecycle(postgres_url: str, tmp_path: Path) -> None:
    from tests.support.databases import empty_postgres

    empty_postgres(postgres_url)
    engine = make_engine(postgres_url)
    token = create_token(engine, "e2e", frozenset({"upload", "report"}))
    home = prepare_dagster_home(tmp_path / "dagster_home")
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": postgres_url, "DAGSTER_HOME": str(home),
           "GRADEWATCH_TRAINING_PROFILE": "quick", "GRADEWATCH_SENSOR_INTERVAL_SECONDS": "3"}
    headers = {"Authorization": f"Bearer {token}"}
    s1, s2 = semester_frame(S1, 300), semester_frame(S2, 300)
    daemon_log = tmp_path / "daemon.log"
    with running_server(postgres_url, tmp_path, extra_env=env) as base, daemon_log.open("wb") as log:
        def post(period, frame):
            form = {"start_date_period": period.start.isoformat(), "end_date_period": period.end.isoformat()}
            answer = requests.post(f"{base}/update-csv", headers=headers, data=form, timeout=60,
                                   files={"file": ("x.csv", frame.to_csv(index=False).encode())})
            assert answer.status_code == 200, answer.text
            return answer.json()

        post(S1, s1.drop(columns=["final_grade"]))
        post(S2, s2.drop(columns=["final_grade"]))
        daemon = subprocess.Popen([_executable("dagster-daemon"), "run", "-w", str(home / "workspace.yaml")],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            assert post(S1, s1[["user_id", "final_grade"]])["updated"] == 300
            evaluation = _wait_for("the evaluation run of the graded semester", lambda: [
                r for r in _runs(home, "evaluation_job", dg.DagsterRunStatus.SUCCESS)
                if r.tags.get("dagster/partition") == S1.key], log=daemon_log)
            assert evaluation
            assert champion_version(engine) is not None
            report_params = {"start_date_period": S2.start.isoformat(), "end_date_period": S2.end.isoformat()}

            def report() -> requests.Response | None:
                answer = requests.get(f"{base}/get-report", params=report_params, headers=headers, timeout=30)
                return answer if answer.status_code == 200 else None

            answer = _wait_for("predictions and the report of the running semester", report, log=daemon_log)
            lines = answer.text.strip().splitlines()
            assert lines[0].startswith("user_id,")
            assert len(lines) == 301

            # A backfill of three partitions, as launched from the UI's partition selection.
            post(S3, semester_frame(S3, 100).drop(columns=["final_grade"]))
            _wait_for("the third partition", lambda: _partition_known(home, S3.key), log=daemon_log)
            before = len(_runs(home, "semester_job", dg.DagsterRunStatus.SUCCESS))
            subprocess.run([_executable("dagster"), "job", "backfill", "-w", str(home / "workspace.yaml"),
                            "-j", "semester_job", "--partitions", ",".join([S1.key, S2.key, S3.key]),
                            "--noprompt"], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
            backfilled = _wait_for("the three backfill runs", lambda: (
                runs if len(runs := [r for r in _runs(home, "semester_job") if "dagster/backfill" in r.tags]) >= 3
                and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs) else None), log=daemon_log)
            assert {r.tags["dagster/partition"] for r in backfilled} == {S1.key, S2.key, S3.key}
            assert len(_runs(home, "semester_job", dg.DagsterRunStatus.SUCCESS)) >= before + 3
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
    engine.dispose()


def _partition_known(home: Path, key: str) -> bool:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return key in instance.get_dynamic_partitions("semester")
