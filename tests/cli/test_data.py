"""``gradewatch generate`` and ``gradewatch clean`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from gradewatch import schema
from gradewatch.cli import cli
from gradewatch.quality.cleaning import OUTPUT_COLUMNS, fit_reference


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def assert_clean_failure(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


@pytest.fixture
def generated(runner: CliRunner, tmp_path: Path) -> tuple[Path, dict]:
    out = tmp_path / "gen"
    result = run(runner, "generate", "--out", str(out), "--semesters", "2", "--students", "600",
                 "--seed", "4", "--with-final-grades", "--error-rate", "0.15", "--pii",
                 "--drift", "attendance")
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "manifest.json").read_text())


def test_generate_writes_one_csv_per_period_and_a_manifest(generated: tuple[Path, dict]):
    out, manifest = generated
    files = sorted(p.name for p in out.iterdir())
    assert files == ["2024-01-12_2024-06-30.csv", "2024-09-01_2024-12-18.csv", "manifest.json"]
    assert manifest["config"]["students"] == 600 and manifest["config"]["pii"] is True
    assert [s["drifted"] for s in manifest["semesters"]] == [False, True]
    assert all(s["errors"] for s in manifest["semesters"])


def test_generate_prints_what_it_wrote(runner: CliRunner, tmp_path: Path):
    result = run(runner, "generate", "--out", str(tmp_path), "--semesters", "1", "--students", "10")
    assert result.exit_code == 0
    assert "2024-01-12_2024-06-30.csv: 10 rows, 0 row errors, file errors: none" in result.output
    assert result.output.strip().endswith("manifest.json")


def test_generate_rejects_unknown_error_kinds_with_a_message(runner: CliRunner, tmp_path: Path):
    result = run(runner, "generate", "--out", str(tmp_path), "--error-kinds", "sentinel,typo_storm")
    assert_clean_failure(result, "typo_storm", "sentinel")
    result = run(runner, "generate", "--out", str(tmp_path), "--error-rate", "2")
    assert_clean_failure(result, "--error-rate")


def test_generate_into_a_file_path_fails_cleanly(runner: CliRunner, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(runner, "generate", "--out", str(blocker / "sub"), "--students", "5")
    assert_clean_failure(result, "cannot write")


def test_clean_writes_canonical_columns_flags_and_the_report(runner: CliRunner, generated, tmp_path: Path):
    out, manifest = generated
    entry = manifest["semesters"][0]
    output, report_path = tmp_path / "clean.csv", tmp_path / "report.json"
    result = run(runner, "clean", "--input", str(out / entry["file"]), "--output", str(output),
                 "--report", str(report_path))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(output, keep_default_na=False)
    assert list(frame.columns) == list(OUTPUT_COLUMNS)
    assert {"Name", "Email", "Phone"}.isdisjoint(frame.columns)
    assert (frame["start_date_period"] == entry["start_date_period"]).all()  # from the file name
    report = json.loads(report_path.read_text())
    for key in ("rows_in", "rows_out", "imputed", "excluded", "rules"):
        assert key in report
    expected = entry["expected"]
    assert report["rows_out"] == expected["rows_out"] == len(frame)
    assert (report["imputed"], report["excluded"]) == (expected["imputed"], expected["excluded"])
    assert report["reader"]["dropped_columns"] == ["Name", "Email", "Phone"]
    assert report["reader"]["rows_rejected"] == expected["missing_user_id"]
    assert f"{report['rows_in']} rows in, {report['rows_out']} out" in result.output
    imputed = frame["quality_flags"].str.contains("imputed:")
    assert imputed.sum() == report["imputed"]


def test_clean_with_a_reference_and_markdown(runner: CliRunner, generated, tmp_path: Path):
    out, manifest = generated
    training = pd.read_csv(out / manifest["semesters"][0]["file"])
    training.columns = [schema.canonical_column(c) or c for c in training.columns]
    reference = fit_reference(training)
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(reference.to_dict()))
    result = run(runner, "clean", "--input", str(out / manifest["semesters"][1]["file"]),
                 "--output", str(tmp_path / "o.csv"), "--reference", str(path), "--markdown")
    assert result.exit_code == 0, result.output
    assert "### Data quality: 2024-09-01_2024-12-18.csv" in result.output
    assert f"Fitted on {reference.n_rows} rows" in result.output
    assert "| rule | count | by column | action |" in result.output


def test_clean_reports_a_missing_file(runner: CliRunner, tmp_path: Path):
    result = run(runner, "clean", "--input", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "o.csv"))
    assert_clean_failure(result, "cannot read", "nope.csv", "no such file")
    assert not (tmp_path / "o.csv").exists()


def test_clean_reports_a_directory_given_as_input(runner: CliRunner, tmp_path: Path):
    result = run(runner, "clean", "--input", str(tmp_path), "--output", str(tmp_path / "o.csv"))
    assert_clean_failure(result, "is a directory")


def test_clean_reports_a_path_that_cannot_be_opened(runner: CliRunner, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(runner, "clean", "--input", str(blocker / "in.csv"), "--output", str(tmp_path / "o.csv"))
    assert_clean_failure(result, "cannot read", "Not a directory")


@pytest.mark.parametrize(("content", "fragment"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG image"),
    (b"", "empty"),
    (b"name,email\nAna,ana@example.org\n", "None of the columns"),
    (bytes(range(1, 256)) * 4, "cannot read"),
])
def test_clean_reports_a_file_that_is_not_a_usable_csv(runner: CliRunner, tmp_path: Path,
                                                        content: bytes, fragment: str):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    result = run(runner, "clean", "--input", str(path), "--output", str(tmp_path / "o.csv"))
    assert_clean_failure(result, "cannot read", fragment)


def test_clean_reports_a_bad_reference(runner: CliRunner, generated, tmp_path: Path):
    out, manifest = generated
    bad = tmp_path / "ref.json"
    bad.write_text('{"medians": 3}')
    result = run(runner, "clean", "--input", str(out / manifest["semesters"][0]["file"]),
                 "--output", str(tmp_path / "o.csv"), "--reference", str(bad))
    assert_clean_failure(result, "not a cleaning reference")


def test_clean_reports_an_output_it_cannot_write(runner: CliRunner, generated, tmp_path: Path):
    out, manifest = generated
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(runner, "clean", "--input", str(out / manifest["semesters"][0]["file"]),
                 "--output", str(blocker / "o.csv"))
    assert_clean_failure(result, "cannot write")


def test_gradewatch_main_turns_errors_into_a_line_not_a_traceback(tmp_path: Path):
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-c", "from gradewatch.cli import main; main()", "clean",
         "--input", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "o.csv")],
        capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 1
    assert completed.stderr.strip() == f"Error: cannot read {tmp_path / 'missing.csv'}: no such file"
    assert "Traceback" not in completed.stderr + completed.stdout
