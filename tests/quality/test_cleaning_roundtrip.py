"""Round trip: generate semesters with PII and human errors, upload them through the web app,
clean the stored rows, and check the result against the generator's manifest."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from gradewatch.quality.cleaning import clean_semester
from gradewatch.semesters import Period
from gradewatch.storage.features import (
    load_cleaned_features,
    load_semester_reports,
    replace_cleaned_features,
)
from gradewatch.storage.tables import metadata
from gradewatch.synthetic.config import FILE_KINDS, ROW_KINDS, GeneratorConfig
from gradewatch.synthetic.generator import generate, write_semesters
from gradewatch.synthetic.scoring import score_cleaning


def database_text(engine: Engine) -> str:
    """Every cell of every application table, as one string."""
    parts: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_generated_semesters_survive_upload_and_cleaning(client: FlaskClient, upload_token: str, engine: Engine,
                                                         tmp_path: Path, caplog: pytest.LogCaptureFixture):
    config = GeneratorConfig(semesters=3, students=800, seed=30, with_final_grades=True,
                             error_rate=0.25, file_error_rate=0.5, pii=True)
    manifest = json.loads(write_semesters(config, tmp_path).read_text())
    semesters = generate(config)  # the same seed: the in-memory ground truth of those files
    # This seed puts every kind of error in at least one of the three files.
    assert {e["kind"] for s in manifest["semesters"] for e in s["file_errors"]} == set(FILE_KINDS)
    assert {e["kind"] for s in manifest["semesters"] for e in s["errors"]} == set(ROW_KINDS)
    caplog.set_level(logging.DEBUG)
    for semester, entry in zip(semesters, manifest["semesters"], strict=True):
        raw = (tmp_path / entry["file"]).read_bytes()
        assert raw == semester.csv_bytes()
        response = client.post(
            "/update-csv",
            data={"start_date_period": entry["start_date_period"], "end_date_period": entry["end_date_period"],
                  "file": (io.BytesIO(raw), entry["file"])},
            content_type="multipart/form-data", headers={"Authorization": f"Bearer {upload_token}"})
        assert response.status_code == 200, response.get_json()
        body, expected = response.get_json(), entry["expected"]
        assert body["dropped_columns"] == ["Name", "Email", "Phone"]
        # The upload rejects rows without an id and the older copy of a duplicated student.
        assert body["inserted"] == expected["rows_out"]
        assert body["rejected"] == expected["missing_user_id"] + expected["duplicate_rows"]

        period = Period.from_key(entry["period"])
        stored = load_semester_reports(engine, period)
        result = clean_semester(stored)
        report = result.report
        assert (report.rows_in, report.rows_out) == (expected["rows_out"], expected["rows_out"])
        assert report.dropped == {"missing_user_id": 0, "duplicate_user_id": 0}
        assert (report.imputed, report.excluded) == (expected["imputed"], expected["excluded"])
        assert report.rules["final_grade_out_of_range"] == expected["final_grade_out_of_range"]
        assert report.rules["misspelled_category"] == expected["misspelled_category"]
        converted = sorted(c["column"] for c in report.conversions)
        injected = sorted(column for e in entry["file_errors"]
                          if e["kind"] in ("attendance_fraction", "grade_scale_20", "grade_scale_10")
                          for column in e.get("columns", [e.get("column")]))
        assert converted == injected
        score = score_cleaning(semester, result.frame, report)
        for kind in score.injected:
            assert score.recall(kind) >= 0.99, (entry["period"], kind, score.summary())
        assert score.altered_share <= 0.005, score.summary()
        replace_cleaned_features(engine, period, result.frame)

    assert len(load_cleaned_features(engine)) == sum(e["expected"]["rows_out"] for e in manifest["semesters"])
    # No PII anywhere: not in the database, not in the logs.
    everything = database_text(engine) + "\n" + caplog.text
    assert semesters[0].truth["user_id"].iloc[0] in everything  # the scan does see stored rows
    for semester in semesters:
        for column, values in semester.sheet.pii.items():
            leaked = [v for v in set(values) if v in everything]
            assert not leaked, (column, leaked[:3])
