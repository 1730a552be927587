"""The Dagster assets, materialized for real on a Dagster instance, against SQLite and PostgreSQL
application databases (the engine fixture). No mocks: real scikit-learn models are trained."""

from __future__ import annotations

import logging

import dagster as dg
import pytest
import sqlalchemy as sa

from gradewatch.models.registry import champion_version, list_versions
from gradewatch.storage.monitoring import read_drift_metrics, read_performance
from gradewatch.storage.reports import report_ready
from gradewatch.storage.tables import alerts, cleaned_features, grade_predictions
from gradewatch_assets.jobs import evaluation_job, semester_job
from gradewatch_assets.resources import GradewatchResource
from tests.support.materialize import metadata, run
from tests.support.semesters import S1, S2, S3, inverted, semester_frame, upload, upload_grades

pytestmark = pytest.mark.slow



@pytest.fixture
def gradewatch(database_url: str, monkeypatch: pytest.MonkeyPatch) -> GradewatchResource:
    monkeypatch.setenv("GRADEWATCH_TRAINING_PROFILE", "quick")
    return GradewatchResource(database_url=database_url)


def alerts_of(engine, kind: str) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(alerts).where(alerts.c.kind == kind)).all()


def test_cold_start_predicts_nothing_and_does_not_fail(engine, instance, gradewatch) -> None:
    upload(engine, S1, semester_frame(S1, 120), grades=False)
    result = run(semester_job, S1.key, instance, gradewatch)
    assert metadata(result, "student_reports")["rows"] == 120
    assert metadata(result, "cleaned_features")["rows_out"] == 120
    assert "no model yet" in metadata(result, "grade_predictions")["note"]
    assert "no model trained yet" in metadata(result, "drift_metrics")["note"]
    assert not report_ready(engine, S1)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cleaned_features)).scalar_one() == 120
        assert conn.execute(sa.select(sa.func.count()).select_from(grade_predictions)).scalar_one() == 0


def test_first_graded_semester_trains_then_predictions_flow(engine, instance, gradewatch, caplog) -> None:
    upload(engine, S1, semester_frame(S1), grades=True)
    upload(engine, S2, semester_frame(S2), grades=False)
    with caplog.at_level(logging.INFO):
        evaluation = run(evaluation_job, S1.key, instance, gradewatch)
    decision = metadata(evaluation, "trained_model")
    assert decision["decision"] == "first_model"
    assert champion_version(engine) == decision["champion"]
    assert any(getattr(r, "alert_kind", None) == "model_promoted" for r in caplog.records)
    assert len(alerts_of(engine, "model_promoted")) == 1
    predicted = run(semester_job, S2.key, instance, gradewatch)
    meta = metadata(predicted, "grade_predictions")
    assert meta["students_predicted"] == 400
    assert 0 < meta["students_at_risk"] < 400
    assert report_ready(engine, S2)
    checks = {c.check_name: c.passed for c in predicted.get_asset_check_evaluations()}
    assert checks == {"excluded_rows_within_limit": True, "no_dataset_drift": True,
                      "estimated_accuracy_within_tolerance": True}


def test_drift_alert(engine, instance, gradewatch, caplog) -> None:
    upload(engine, S1, semester_frame(S1, 600), grades=True)
    run(evaluation_job, S1.key, instance, gradewatch)
    upload(engine, S2, semester_frame(S2, 600, attendance_shift_sd=-1.0), grades=False)
    with caplog.at_level(logging.WARNING):
        result = run(semester_job, S2.key, instance, gradewatch)
    rows = {r["feature"]: r for r in read_drift_metrics(engine, S2)}
    assert rows["attendance_rate"]["drifted"] is True
    assert rows["gender"]["drifted"] is False
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["no_dataset_drift"].passed is False
    assert checks["no_dataset_drift"].severity == dg.AssetCheckSeverity.WARN
    drift_records = [r for r in caplog.records if getattr(r, "alert_kind", None) == "drift_detected"]
    assert len(drift_records) == 1 and "attendance_rate" in drift_records[0].getMessage()
    assert drift_records[0].semester == S2.key


def test_accuracy_alert_and_performance_rows(engine, instance, gradewatch, caplog) -> None:
    upload(engine, S1, semester_frame(S1), grades=True)
    run(evaluation_job, S1.key, instance, gradewatch)
    s2 = semester_frame(S2)
    upload(engine, S2, s2, grades=False)
    run(semester_job, S2.key, instance, gradewatch)
    upload_grades(engine, S2, inverted(s2))
    with caplog.at_level(logging.WARNING):
        result = run(evaluation_job, S2.key, instance, gradewatch)
    (perf,) = read_performance(engine, S2)
    assert perf["within_tolerance"] is False
    assert perf["n_students"] == 400 and perf["grade_coverage"] == 1.0
    assert set(perf["by_gender"]) >= {"female", "male"}
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["accuracy_within_tolerance"].passed is False
    assert checks["accuracy_within_tolerance"].severity == dg.AssetCheckSeverity.ERROR
    assert [r.levelno for r in caplog.records if getattr(r, "alert_kind", None) == "accuracy_degraded"] == [
        logging.ERROR]
    # The newest graded semester is the only new-regime data: the challenger (trained on S1, as
    # the champion was) cannot do better there, so the champion is kept.
    assert metadata(result, "trained_model")["decision"] == "kept"
    assert len(alerts_of(engine, "model_kept")) == 1


def test_challenger_promoted_when_better_and_open_semesters_follow(engine, instance, gradewatch) -> None:
    # A small first semester, then a large one in the new regime: a challenger trained on both
    # learns the new regime and beats the naive baselines (a 50/50 mix would not).
    upload(engine, S1, semester_frame(S1, 200), grades=True)
    run(evaluation_job, S1.key, instance, gradewatch)
    first = champion_version(engine)
    upload(engine, S2, inverted(semester_frame(S2, 1200)), grades=True)
    run(evaluation_job, S2.key, instance, gradewatch)  # only one new-regime semester: kept
    assert champion_version(engine) == first
    s3 = inverted(semester_frame(S3))
    upload(engine, S3, s3, grades=False)
    run(semester_job, S3.key, instance, gradewatch)
    upload_grades(engine, S3, s3)
    result = run(evaluation_job, S3.key, instance, gradewatch)
    decision = metadata(result, "trained_model")
    assert decision["decision"] == "promoted", decision
    comparison = decision["figures"]["comparison"]
    assert comparison["challenger_mae"] < comparison["champion_mae"] and comparison["interval"][0] > 0
    assert comparison["test"] == "paired_bootstrap_mae_difference" and comparison["n_students"] == 400
    assert champion_version(engine) == decision["champion"] != first
    statuses = {v.version: v.status for v in list_versions(engine)}
    assert statuses[first] == "retired" and list(statuses.values()).count("champion") == 1
    assert len(alerts_of(engine, "model_promoted")) == 2


def test_challenger_kept_when_not_better(engine, instance, gradewatch) -> None:
    upload(engine, S1, semester_frame(S1), grades=True)
    upload(engine, S2, semester_frame(S2), grades=True)
    run(evaluation_job, S2.key, instance, gradewatch)  # first model, trained on S1 and S2
    first = champion_version(engine)
    # Same relation, shifted population: drift triggers retraining, but nothing new to learn.
    s3 = semester_frame(S3, attendance_shift_sd=-1.0)
    upload(engine, S3, s3, grades=True)
    result = run(evaluation_job, S3.key, instance, gradewatch)
    decision = metadata(result, "trained_model")
    assert decision["decision"] == "kept", decision
    assert "drift in attendance_rate" in decision["figures"]["triggers"]
    assert champion_version(engine) == first
    assert {v.status for v in list_versions(engine) if v.version != first} == {"challenger"}
