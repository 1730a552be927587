"""The summary events of SPEC section 8, emitted by real uploads, the real core lifecycle and a real
Dagster materialization: one record each, with the documented fields (elk/README.md), never a
row's value."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from gradewatch.logs import FIELD_TYPES, record_fields
from gradewatch.settings import Settings
from gradewatch_assets.jobs import evaluation_job, semester_job
from gradewatch_assets.resources import GradewatchResource
from tests.support.csvdata import student_rows, to_csv, upload
from tests.support.lifecycle import ESTIMATED_MAE, run_lifecycle
from tests.support.materialize import run
from tests.support.semesters import S1, S2, semester_frame
from tests.support.semesters import upload as seed

FEATURES = ("gender", "attendance_rate", "study_hours_per_week", "previous_grade",
            "extracurricular_activities_count", "parental_support")  # fmt: skip
DOCUMENTED = {  # elk/README.md, "Summary records"
    "upload_summary": {"semester", "upload_mode", "upload_source", "token_name", "rows_received",
                       "rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected", "dropped_columns",
                       "invalid_share", "upload_errors.user_id", "upload_errors.attendance_rate",
                       "upload_errors.final_grade", "upload_errors.row"},
    "cleaning_summary": {"semester", "rows_cleaned", "rows_kept", "rows_imputed", "rows_excluded",
                         "excluded_share", "quality_rules.sentinel", "quality_rules.out_of_range",
                         "quality_rules.misspelled_category", "quality_rules.duplicate_user_id"},
    "drift_summary": {"semester", "model_version", "dataset_drift", "drifted_features",
                      *(f"drift_effect.{f}" for f in FEATURES), *(f"drift_effect_vs_threshold.{f}" for f in FEATURES)},
    "prediction_summary": {"semester", "model_version", "model_role", "students_predicted", "students_at_risk",
                           "at_risk_share", "students_high_risk", "students_moderate_risk",
                           "students_low_risk"},
    "performance_summary": {"semester", "model_version", "students_evaluated", "mae", "rmse", "r2",
                            "interval_coverage", "at_risk_precision", "at_risk_recall", "within_tolerance",
                            "validation_mae", "estimated_mae", "estimated_mae_lower", "estimated_mae_upper"},
}  # fmt: skip


def summaries(caplog: pytest.LogCaptureFixture) -> list[dict]:
    """The records as they are shipped to Logstash, summary events only."""
    shipped = [record_fields(r) for r in caplog.records if r.name == "gradewatch.summary"]
    return [r for r in shipped if r.get("event")]


def assert_no_row_value(records: list[dict], values: set[str]) -> None:
    text = json.dumps(records)
    leaked = {v for v in values if v in text}
    assert not leaked, leaked
    assert all("extra_fields" not in r for r in records)  # every field is a typed, mapped one
    assert set().union(*records) <= set(FIELD_TYPES)


def test_upload_summary_of_a_real_upload_with_errors_and_identifying_columns(
    client: FlaskClient, upload_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows = student_rows(8)
    for i, row in enumerate(rows):
        row |= {"Full Name": f"Ada Lovelace{i}", "Email": f"ada{i}@school.example"}
    rows[1]["attendance_rate"] = "lots"
    rows[6]["user_id"] = rows[7]["user_id"]  # the later row wins; the earlier one is an error
    with caplog.at_level(logging.INFO, logger="gradewatch.summary"):
        answer = upload(client, upload_token, to_csv(rows))
    assert answer.status_code == 200, answer.get_json()
    (record,) = summaries(caplog)
    assert record["event"] == "upload_summary"
    assert DOCUMENTED["upload_summary"] <= set(record)
    assert record["upload_source"] == "api" and record["token_name"] == "registrar"
    assert (record["rows_received"], record["rows_inserted"], record["rows_rejected"]) == (8, 6, 2)
    assert record["invalid_share"] == pytest.approx(2 / 8)
    assert record["dropped_columns"] == 2
    assert (record["upload_errors.attendance_rate"], record["upload_errors.user_id"]) == (1, 1)
    assert record["upload_errors.row"] == record["upload_errors.final_grade"] == 0
    values = {str(v) for row in rows for k, v in row.items() if k in {"user_id", "Full Name", "Email"}}
    assert_no_row_value([record], values | {"lots", "Ada"})


def test_a_refused_upload_logs_no_summary(client: FlaskClient, upload_token: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="gradewatch.summary"):
        assert upload(client, upload_token, b"user_id\ns000001\n").status_code == 400
    assert summaries(caplog) == []


def test_every_summary_of_the_core_lifecycle(engine: Engine, settings: Settings,
                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="gradewatch.summary"):
        done = run_lifecycle(engine, settings)
    records = summaries(caplog)
    by_event: dict[str, list[dict]] = {}
    for record in records:
        by_event.setdefault(record["event"], []).append(record)
    # uploads: S1 graded, S2 without grades, S2's grades; cleaning S1, S2, S2 graded; one drift,
    # prediction and evaluation
    assert {e: len(r) for e, r in by_event.items()} == {
        "upload_summary": 3, "cleaning_summary": 3, "drift_summary": 1, "prediction_summary": 1,
        "performance_summary": 1}
    for event, found in by_event.items():
        for record in found:
            assert DOCUMENTED[event] <= set(record), (event, DOCUMENTED[event] - set(record))
    (drift,) = by_event["drift_summary"]
    assert drift["semester"] == done.evaluated.key and drift["model_version"] == done.champion
    assert drift["drift_effect_vs_threshold.attendance_rate"] == pytest.approx(
        drift["drift_effect.attendance_rate"] / 0.1)
    (predicted,) = by_event["prediction_summary"]
    assert predicted["students_predicted"] == 200 and predicted["model_role"] == "champion"
    assert predicted["at_risk_share"] == pytest.approx(predicted["students_at_risk"] / 200)
    tiers = [predicted[f"students_{tier}_risk"] for tier in ("high", "moderate", "low")]
    assert sum(tiers) == 200 and tiers[0] == predicted["students_at_risk"]  # high = p >= 0.5 = at risk
    (measured,) = by_event["performance_summary"]
    assert measured["model_version"] == done.champion and measured["students_evaluated"] == 200
    assert measured["estimated_mae"] == ESTIMATED_MAE and measured["mae"] > 0
    assert [r["upload_mode"] for r in by_event["upload_summary"]] == ["reports", "reports", "final_grades"]
    assert_no_row_value(records, set(done.user_ids))


@pytest.mark.slow
def test_summaries_from_a_real_dagster_materialization(
    engine: Engine, instance, database_url: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("GRADEWATCH_TRAINING_PROFILE", "quick")
    gradewatch = GradewatchResource(database_url=database_url)
    seed(engine, S1, semester_frame(S1, 200), grades=True)
    later = semester_frame(S2, 200)
    seed(engine, S2, later, grades=False)
    run(evaluation_job, S1.key, instance, gradewatch)
    caplog.set_level(logging.INFO, logger="gradewatch.summary")
    result = run(semester_job, S2.key, instance, gradewatch)
    # caplog holds the whole test's records (the uploads, the evaluation of S1): keep this run's.
    records = [r for r in summaries(caplog) if r["semester"] == S2.key and r["event"] != "upload_summary"]
    # caplog sees each record twice inside a run: as logged, and as Dagster re-logs its managed loggers.
    assert {r["event"] for r in records} == {"cleaning_summary", "drift_summary", "prediction_summary"}
    assert len({(r["event"], r["@timestamp"]) for r in records}) == 3
    for record in records:
        assert DOCUMENTED[record["event"]] <= set(record)
        assert record["semester"] == S2.key
        assert record.get("run_id") in (None, result.run_id)
    assert_no_row_value(records, {str(u) for u in later["user_id"]})
