"""``gradewatch status``, run as a real subprocess on both backends: an empty database, and one with
semesters, predictions, a champion and a shadow measured and estimated, Dagster runs and alerts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from gradewatch.models.registry import register_model
from gradewatch.models.training import train_model
from gradewatch.monitoring.alerts import alert, configure_alerts, reset_alerts
from gradewatch.settings import Settings
from gradewatch.storage import make_engine
from gradewatch.storage.migrate import upgrade
from gradewatch.storage.tables import performance_estimates
from gradewatch_assets.instance import prepare_dagster_home
from tests.support.gradegen import make_semester
from tests.support.pages import OLD_SEMESTERS, TINY_SEARCH, fill_monitoring, predict_everyone, train_champion
from tests.support.semesters import S3, semester_frame, upload


def run_status(database_url: str, dagster_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": database_url, "DAGSTER_HOME": str(dagster_home)}
    done = subprocess.run([sys.executable, "-m", "gradewatch", "status", *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_status_of_an_empty_database(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    text = run_status(database_url, tmp_path / "no_dagster_home").stdout
    assert "none yet: upload a semester's CSV" in text
    assert "champion  none yet" in text and "shadow    none" in text
    assert "not available (no Dagster instance" in text
    found = json.loads(run_status(database_url, tmp_path / "no_dagster_home", "--json").stdout)
    assert found == {"semesters": [], "champion": None, "shadow": None, "alerts": [], "runs": None}


@dg.asset(partitions_def=dg.StaticPartitionsDefinition([S3.key]))
def toy_semester_asset() -> None:
    """A run of a semester partition in the Dagster instance that status reads."""


def _fill(database_url: str, settings: Settings) -> dict[str, str]:
    engine = make_engine(database_url)
    frame = semester_frame(S3, n=40)
    upload(engine, S3, frame, grades=False)
    champion = train_champion(engine)
    shadow = register_model(engine, train_model(make_semester(200, seed=3), seed=0, config=TINY_SEARCH),
                            list(OLD_SEMESTERS))
    fill_monitoring(engine, champion)
    predict_everyone(engine, S3, list(frame["user_id"]))
    with engine.begin() as conn:  # the label-free estimate of the shadow on the open semester
        conn.execute(performance_estimates.insert().values(
            start_date_period=S3.start, end_date_period=S3.end, model_version=shadow, method="test",
            n_students=40, estimated_mae=6.25, estimated_mae_lower=5.0, estimated_mae_upper=7.5,
            estimated_at=datetime.now(UTC)))
    configure_alerts(settings, engine)  # stored in the alerts table
    try:
        assert alert("drift_detected", "warning", "attendance_rate drifted", semester=S3.key)
    finally:
        reset_alerts()
    engine.dispose()
    home = prepare_dagster_home(Path(settings.dagster_home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = dg.materialize([toy_semester_asset], instance=instance, partition_key=S3.key)
    return {"champion": champion, "shadow": shadow, "run_id": run.run_id}


def test_status_of_a_full_database(database_url: str, settings: Settings) -> None:
    made = _fill(database_url, settings)
    text = run_status(database_url, settings.dagster_home).stdout
    line = next(li for li in text.splitlines() if li.strip().startswith(S3.key))
    assert line.split()[1:4] == ["40", "0%", "20"]  # students, graded, at risk (every other one)
    assert f"champion  {made['champion']}" in text and f"shadow    {made['shadow']}" in text
    assert "measured MAE" in text and f"on {OLD_SEMESTERS[1].key}" in text
    assert f"estimated MAE 6.25 on {S3.key} (grades not in yet)" in text
    run_line = next(li for li in text.splitlines() if "__ephemeral_asset_job__" in li)
    assert run_line.split()[1:] == ["SUCCESS", "__ephemeral_asset_job__", S3.key]
    assert "drift_detected" in text and "attendance_rate drifted" in text
    found = json.loads(run_status(database_url, settings.dagster_home, "--json").stdout)
    (semester,) = found["semesters"]
    assert semester | {"last_prediction": None} == {
        "semester": S3.key, "students": 40, "graded": 0, "graded_share": 0.0, "last_prediction": None,
        "students_in_report": 40, "at_risk": 20}
    assert semester["last_prediction"] is not None
    assert found["champion"]["version"] == made["champion"]
    assert found["champion"]["last_evaluation"]["semester"] == OLD_SEMESTERS[1].key
    assert found["shadow"]["version"] == made["shadow"]
    assert found["shadow"]["last_estimate"]["estimated_mae"] == 6.25
    assert [r["run_id"] for r in found["runs"]] == [made["run_id"]]
    assert found["runs"][0]["partition"] == S3.key and found["runs"][0]["status"] == "SUCCESS"
    assert [a["kind"] for a in found["alerts"]] == ["drift_detected"]
