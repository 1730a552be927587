"""``gradewatch model ...`` and ``gradewatch drift``, run as real subprocesses on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gradewatch.models import registry
from gradewatch.models.training import SearchConfig, TrainedModel, train_model
from gradewatch.storage import make_engine
from tests.support.gradegen import make_semester

FAST = SearchConfig(families=("ridge",), n_iter=1, cv=3)


def run_cli(*args: str, url: str = "sqlite:///:memory:") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "gradewatch", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return train_model(make_semester(200, seed=1), config=FAST)


def test_model_list_promote_rollback(database_url: str, model: TrainedModel) -> None:
    empty = run_cli("model", "list", url=database_url)
    assert empty.returncode == 0 and "no model versions yet" in empty.stdout
    engine = make_engine(database_url)
    v1 = registry.register_model(engine, model, ["2025-01-06_2025-06-27"], status="champion")
    v2 = registry.register_model(engine, model, ["2025-01-06_2025-06-27", "2025-09-01_2026-01-30"])
    listed = run_cli("model", "list", url=database_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[1].startswith(f"* {v1}\tchampion\tridge")
    assert lines[2].startswith(f"  {v2}\tchallenger\tridge")
    promoted = run_cli("model", "promote", v2, url=database_url)
    assert promoted.returncode == 0 and f"{v2} is now the champion" in promoted.stdout
    assert registry.champion_version(engine) == v2
    rolled = run_cli("model", "rollback", url=database_url)
    assert rolled.returncode == 0 and f"rolled back from {v2} to {v1}" in rolled.stdout
    assert registry.champion_version(engine) == v1
    engine.dispose()


@pytest.mark.parametrize(("args", "fragment"), [
    (("model", "promote", "v99"), "unknown model version 'v99'"),
    (("model", "rollback"), "there is no champion to roll back from"),
])
def test_bad_model_commands_explain_themselves(database_url: str, args, fragment: str) -> None:
    result = run_cli(*args, url=database_url)
    assert result.returncode == 1
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    # Export-style headers and categories, as a registrar's file would have them.
    out = frame.rename(columns={"attendance_rate": "Attendance Rate (%)", "gender": "Gender"})
    out["Gender"] = out["Gender"].map({"female": "F", "male": "M", "other": "X"})
    out.to_csv(path, index=False)
    return path


def test_drift_json_matches_the_spec_shape(tmp_path: Path) -> None:
    reference = write_csv(tmp_path / "a.csv", make_semester(3000, seed=2))
    current = write_csv(tmp_path / "b.csv", make_semester(600, seed=3, attendance_shift_sd=0.5))
    result = run_cli("drift", "--reference", str(reference), "--current", str(current), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"dataset_drift", "features"} and report["dataset_drift"] is True
    by_name = {f["feature"]: f for f in report["features"]}
    assert set(by_name) == {"attendance_rate", "study_hours_per_week", "previous_grade",
                            "extracurricular_activities_count", "gender", "parental_support"}
    for feature in report["features"]:
        assert set(feature) == {"feature", "method", "statistic", "p_value", "psi", "drifted"}
    assert [name for name, f in by_name.items() if f["drifted"]] == ["attendance_rate"]
    assert by_name["gender"]["method"] == "chi2" and by_name["attendance_rate"]["method"] == "ks"


def test_drift_table_for_people(tmp_path: Path) -> None:
    reference = write_csv(tmp_path / "a.csv", make_semester(2000, seed=4))
    current = write_csv(tmp_path / "b.csv", make_semester(800, seed=5))
    result = run_cli("drift", "--reference", str(reference), "--current", str(current))
    assert result.returncode == 0, result.stderr
    assert "parental_support" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("dataset: no drift")


def test_drift_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "a.csv", make_semester(100, seed=6))
    missing = run_cli("drift", "--reference", str(tmp_path / "nope.csv"), "--current", str(good))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    image = tmp_path / "photo.csv"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    unreadable = run_cli("drift", "--reference", str(good), "--current", str(image))
    assert unreadable.returncode == 1 and "PNG image" in unreadable.stderr
    partial = tmp_path / "partial.csv"
    make_semester(100, seed=7).drop(columns="parental_support").to_csv(partial, index=False)
    lacking = run_cli("drift", "--reference", str(good), "--current", str(partial))
    assert lacking.returncode == 1 and "missing feature columns: parental_support" in lacking.stderr
    for result in (missing, unreadable, lacking):
        assert "Traceback" not in result.stderr
