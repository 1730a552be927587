"""``gradewatch demo``: the whole lifecycle headless, its summary, and a clear failure."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from gradewatch.storage import make_engine

pytestmark = pytest.mark.slow


def _demo(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean_env = {k: v for k, v in os.environ.items() if k not in ("GRADEWATCH_DATABASE_URL", "DAGSTER_HOME")}
    return subprocess.run([sys.executable, "-m", "gradewatch", "demo", "--workdir", str(tmp_path / "demo"), *args],
                          env={**clean_env, **(env or {})}, capture_output=True, text=True, timeout=900,
                          check=False, cwd=tmp_path)


def test_demo_runs_the_lifecycle_and_summarises_it(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--students", "200", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout[result.stdout.index("{\n"):])
    assert len(summary["partitions"]) == 6
    assert 6 * 200 * 0.98 <= summary["rows_cleaned"] <= 6 * 200  # rows without a user_id are refused
    assert [m["status"] for m in summary["models"]].count("champion") == 1
    assert len(summary["accuracy"]) == 3  # the graded semesters that had predictions
    kinds = [a["kind"] for a in summary["alerts"]]
    assert kinds[0] == "model_promoted"
    assert list(summary["drift"]) == [summary["partitions"][-1]]  # only the drifted semester
    assert "attendance_rate" in summary["drift"][summary["partitions"][-1]]
    for path in summary["reports"].values():
        with Path(path).open() as handle:
            rows = list(csv.DictReader(handle))
        assert rows and float(rows[0]["probability_below_pass"]) >= float(rows[-1]["probability_below_pass"])
    # The exports carried names, e-mails and phone numbers: none of it reached the database.
    engine = make_engine(f"sqlite:///{tmp_path / 'demo' / 'gradewatch.db'}")
    with engine.connect() as conn:
        emails = conn.execute(sa.text("SELECT count(*) FROM uploads WHERE dropped_columns LIKE '%Email%'")).scalar()
        at_signs = conn.execute(sa.text("SELECT count(*) FROM student_reports WHERE user_id LIKE '%@%' "
                                        "OR gender LIKE '%@%' OR parental_support LIKE '%@%'")).scalar()
    assert emails >= 4 and at_signs == 0
    engine.dispose()


def test_demo_failure_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = _demo(tmp_path, env={"GRADEWATCH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "cannot reach the database" in result.stderr or "demo failed" in result.stderr
