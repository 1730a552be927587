"""Reasons computed while the run is stored (``record_predictions(reasons=...)``), both backends.

On PostgreSQL the attribution runs while the server updates the reports; on SQLite before the
write transaction. Either way the history rows carry them, and a failed attribution stores
nothing of the run.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from gradewatch.storage.db import is_postgres
from gradewatch.storage.predictions import record_predictions
from gradewatch.storage.tables import grade_predictions, in_semester, student_reports
from tests.support.report_runs import FIRST, REASON, SECOND, predictions
from tests.support.semesters import S1, semester_frame, upload

OTHER = [{"feature": "study_hours_per_week", "value": 2.0, "typical": 10.0, "effect": -3.1, "actionable": True}]


@pytest.fixture
def first_run(engine) -> list[str]:
    frame = semester_frame(S1, 4)
    upload(engine, S1, frame, grades=False)
    ids = frame["user_id"].tolist()
    record_predictions(engine, S1, predictions(ids, [0.1, 0.2, 0.3, 0.4]), "v1", FIRST)
    return ids


def stored(engine) -> tuple[list[tuple], list[tuple]]:
    p, t = grade_predictions, student_reports
    with engine.connect() as conn:
        history = conn.execute(sa.select(p.c.user_id, p.c.predicted_at, p.c.reasons)
                               .where(in_semester(p, S1)).order_by(p.c.predicted_at, p.c.user_id)).all()
        reports = conn.execute(sa.select(t.c.user_id, t.c.prediction_final_grade)
                               .where(in_semester(t, S1)).order_by(t.c.user_id)).all()
    return [tuple(r) for r in history], [tuple(r) for r in reports]


def test_reasons_computed_meanwhile_are_stored_with_their_run(engine, first_run) -> None:
    ids = first_run
    overlapping = is_postgres(engine)
    sent: list[str] = []
    reports_updated = threading.Event()
    seen: list[tuple[list[str], bool]] = []

    def watch(conn, cursor, statement, *args) -> None:
        sent.append(" ".join(statement.split()).lower())
        if sent[-1].startswith("update student_reports"):
            reports_updated.set()

    def reasons() -> list:
        # On PostgreSQL the attribution is still running when the reports' UPDATE is sent
        # (it waits for it here; a run that computed the reasons first would time out).
        statements = list(sent)
        seen.append((statements, reports_updated.wait(timeout=20) if overlapping else False))
        return [OTHER, REASON, [], OTHER]

    frame = predictions(ids, [0.6, 0.3, 0.9, 0.15]).drop(columns=["reasons"])
    sa.event.listen(engine, "before_cursor_execute", watch)
    try:
        assert record_predictions(engine, S1, frame, "v1", SECOND, reasons=reasons) == 4
    finally:
        sa.event.remove(engine, "before_cursor_execute", watch)
    history, reports = stored(engine)
    assert [why for _, at, why in history if at.replace(tzinfo=None) == SECOND.replace(tzinfo=None)] == [
        OTHER, REASON, [], OTHER]
    assert [grade for _, grade in reports] == pytest.approx([80 - 40 * p for p in [0.6, 0.3, 0.9, 0.15]])
    [(statements_at_start, overlapped)] = seen  # called once
    if overlapping:
        assert overlapped, "the reasons were computed before the reports were updated, not meanwhile"
    else:
        assert statements_at_start == []  # before the write transaction: SQLite's lock does not wait


@pytest.mark.parametrize("failure", ["raises", "wrong length"])
def test_a_failed_attribution_stores_nothing_of_the_run(engine, first_run, failure) -> None:
    ids = first_run
    before = stored(engine)

    def reasons() -> list:
        if failure == "raises":
            raise RuntimeError("the model could not explain")
        return [REASON] * (len(ids) - 1)

    frame = predictions(ids, [0.6, 0.3, 0.9, 0.15]).drop(columns=["reasons"])
    with pytest.raises((RuntimeError, ValueError), match=r"could not explain|3 students' reasons for 4"):
        record_predictions(engine, S1, frame, "v2", SECOND, reasons=reasons)
    assert stored(engine) == before
