"""An evaluation measures the semester's accuracy every time, whatever order its steps run in
(issue 13, item 6), and says nothing reassuring when it could not measure.

Before the fix ``model_performance`` did not depend on ``cleaned_features``: under the
multiprocess executor it could run first, score the cleaned rows of the prediction run (which
carry no grades), write nothing, and let the retraining decision log "accuracy within tolerance".
"""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from gradewatch import pipeline
from gradewatch.models.registry import promote, register_model
from gradewatch.models.training import SearchConfig, train_model
from gradewatch.storage.tables import cleaned_features, model_performance
from gradewatch_assets.definitions import ASSETS
from gradewatch_assets.jobs import evaluation_job, semester_job
from tests.support.gradegen import make_semester
from tests.support.materialize import run
from tests.support.reconstructable import evaluation_job as rebuilt_evaluation_job
from tests.support.semesters import S1, semester_frame, upload, upload_grades

RUNS = 5


@pytest.fixture
def predicted_then_graded(engine, instance, resources, monkeypatch) -> None:
    """A champion, S1 predicted by a semester run, then S1's final grades uploaded."""
    monkeypatch.setenv("GRADEWATCH_TRAINING_PROFILE", "quick")
    trained = train_model(make_semester(300, seed=1), config=SearchConfig(families=("ridge",), n_iter=1, cv=3))
    promote(engine, register_model(engine, trained, ["2024-01-08_2024-06-28"]))
    frame = semester_frame(S1, 120)
    upload(engine, S1, frame, grades=False)
    run(semester_job, S1.key, instance, resources["gradewatch"])
    upload_grades(engine, S1, frame)


def back_to_before_the_evaluation(engine) -> None:
    """The state the prediction run left: cleaned rows without grades, no accuracy recorded."""
    with engine.begin() as conn:
        conn.execute(cleaned_features.update().values(final_grade=None))
        conn.execute(model_performance.delete())


def performance_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model_performance)).scalar_one()


def test_the_evaluation_as_the_run_worker_executes_it_measures_every_time(
        engine, database_url, instance, predicted_then_graded, monkeypatch) -> None:
    """Rebuilt by import and executed with its own executor, as the daemon's run worker does."""
    monkeypatch.setenv("GRADEWATCH_DATABASE_URL", database_url)  # the rebuilt job's resource reads it
    measured = []
    for _ in range(RUNS):
        back_to_before_the_evaluation(engine)
        with dg.execute_job(dg.reconstructable(rebuilt_evaluation_job), instance=instance,
                            tags={"dagster/partition": S1.key}) as result:
            assert result.success
        measured.append(performance_rows(engine))
    assert measured == [1] * RUNS


def test_an_evaluation_that_measured_nothing_fails_and_decides_nothing(engine, instance, resources,
                                                                     predicted_then_graded) -> None:
    back_to_before_the_evaluation(engine)  # model_performance alone, on stale cleaned rows
    result = dg.materialize(ASSETS, selection=["model_performance", "trained_model"], partition_key=S1.key,
                            instance=instance, resources=resources, raise_on_error=False)
    assert not result.success
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "accuracy_measured"]
    assert not check.passed and check.metadata["students_measurable"].value == 120
    assert "trained_model" not in [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    run(evaluation_job, S1.key, instance, resources["gradewatch"])  # evaluated again, in order: measured
    assert performance_rows(engine) == 1


def test_the_decision_never_claims_accuracy_it_did_not_measure(engine, settings, predicted_then_graded) -> None:
    back_to_before_the_evaluation(engine)
    with engine.begin() as conn:  # the cleaned grades are in, the accuracy was never recorded
        for row in conn.execute(sa.text("SELECT user_id, final_grade FROM student_reports")).all():
            conn.execute(cleaned_features.update().where(cleaned_features.c.user_id == row.user_id)
                         .values(final_grade=row.final_grade))
    decision = pipeline.retraining_decision(engine, settings)
    assert decision.action == "not_needed"
    assert "within tolerance" not in decision.reason and "not measured" in decision.reason
