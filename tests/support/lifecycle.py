"""A semester's whole lifecycle through the real core functions (the bodies of the Dagster assets):
a graded semester trains the first model, the next one is cleaned, checked for drift, predicted,
estimated, graded and evaluated. Every summary event of SPEC section 8 is logged on the way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from gradewatch import pipeline
from gradewatch.semesters import Period
from gradewatch.settings import Settings
from gradewatch.storage.tables import performance_estimates
from tests.support.pages import TINY_SEARCH
from tests.support.semesters import S1, S2, semester_frame, upload, upload_grades

ESTIMATED_MAE = 7.5


@dataclass(frozen=True)
class Lifecycle:
    graded: Period  # trained the champion
    evaluated: Period  # predicted, then graded and evaluated
    champion: str
    user_ids: list[str]


def run_lifecycle(engine: Engine, settings: Settings, students: int = 200) -> Lifecycle:
    upload(engine, S1, semester_frame(S1, students), grades=True)
    pipeline.clean_semester_rows(engine, S1)
    decision = pipeline.retraining_decision(engine, settings, config=TINY_SEARCH)
    assert decision.action == "first_model", decision
    later = semester_frame(S2, students)
    upload(engine, S2, later, grades=False)
    pipeline.clean_semester_rows(engine, S2)
    pipeline.measure_drift(engine, S2)
    assert pipeline.predict_semester(engine, S2, settings).predicted == students
    with engine.begin() as conn:  # the label-free estimate, as the estimated_performance asset stores it
        conn.execute(performance_estimates.insert().values(
            start_date_period=S2.start, end_date_period=S2.end, model_version=decision.champion_after,
            method="test", n_students=students, estimated_mae=ESTIMATED_MAE, estimated_mae_lower=6.0,
            estimated_mae_upper=9.0, estimated_at=datetime.now(UTC)))
    upload_grades(engine, S2, later)
    pipeline.clean_semester_rows(engine, S2)  # as evaluation_job does: the grades reach cleaned_features
    pipeline.evaluate_semester(engine, S2, settings)
    return Lifecycle(S1, S2, str(decision.champion_after), [str(u) for u in later["user_id"]])
