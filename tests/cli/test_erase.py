"""``gradewatch erase`` as a real subprocess against both backends: a student or a semester
leaves every table that holds student rows, in one transaction, with an audit row and no trace
of the id in the audit or the logs."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from gradewatch.storage.db import is_postgres, utcnow
from gradewatch.storage.erasure import erase, student_tables
from gradewatch.storage.features import replace_cleaned_features
from gradewatch.storage.predictions import record_predictions
from gradewatch.storage.semesters import semester_status, semester_statuses
from gradewatch.storage.tables import erasures
from tests.support.semesters import S1, S2, semester_frame, upload

STUDENT = "stud.erase-me@campus.example"  # an e-mail-style id, as some campuses use


def seed(engine) -> None:
    """Two semesters, each uploaded, cleaned and predicted, with STUDENT in both."""
    for period in (S1, S2):
        frame = semester_frame(period, 20)
        frame.loc[0, "user_id"] = STUDENT
        upload(engine, period, frame, grades=False)
        replace_cleaned_features(engine, period, frame)
        predictions = pd.DataFrame({"user_id": frame["user_id"], "predicted_grade": 70.0, "interval_lower": 60.0,
                                    "interval_upper": 80.0, "probability_below_pass": 0.2, "at_risk": False})
        record_predictions(engine, period, predictions, "v1", utcnow())


def rows_of(engine, user_id: str | None = None) -> dict[str, int]:
    counts = {}
    with engine.connect() as conn:
        for table in student_tables():
            query = sa.select(sa.func.count()).select_from(table)
            if user_id is not None:
                query = query.where(table.c.user_id == user_id)
            counts[table.name] = conn.execute(query).scalar_one()
    return counts


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": url, "GRADEWATCH_LOG_LEVEL": "DEBUG"}
    return subprocess.run([sys.executable, "-m", "gradewatch", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def audit(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(erasures).order_by(erasures.c.id)).all()


def test_erase_a_student_everywhere(engine, database_url) -> None:
    seed(engine)
    assert student_tables()  # found from the schema: student_reports, cleaned_features, grade_predictions
    assert rows_of(engine, STUDENT) == {"cleaned_features": 2, "grade_predictions": 2, "student_reports": 2}
    before = {p: semester_status(engine, p).version for p in (S1, S2)}
    result = run_cli("erase", "--user-id", STUDENT, url=database_url)
    assert result.returncode == 0, result.stderr
    assert "student_reports: 2 row(s) erased" in result.stdout
    assert "grade_predictions: 2 row(s) erased" in result.stdout
    assert rows_of(engine, STUDENT) == {"cleaned_features": 0, "grade_predictions": 0, "student_reports": 0}
    assert rows_of(engine) == {"cleaned_features": 38, "grade_predictions": 38, "student_reports": 38}
    for period in (S1, S2):  # the sensors see the change
        status = semester_status(engine, period)
        assert (status.rows, status.version) == (19, before[period] + 1)
    (row,) = audit(engine)
    assert (row.scope, row.semester) == ("student", None)
    assert row.counts == {"cleaned_features": 2, "grade_predictions": 2, "student_reports": 2}
    assert STUDENT not in str(tuple(row))
    assert "erasure" in result.stderr  # the log record is there...
    for part in ("erase-me", "stud."):  # ...without the id, or any part of it
        assert part not in result.stderr and part not in result.stdout


def test_erase_a_student_in_one_semester(engine, database_url) -> None:
    seed(engine)
    result = run_cli("erase", "--user-id", STUDENT, "--semester", S1.key, url=database_url)
    assert result.returncode == 0, result.stderr
    assert rows_of(engine, STUDENT) == {"cleaned_features": 1, "grade_predictions": 1, "student_reports": 1}
    (row,) = audit(engine)
    assert (row.scope, row.semester) == ("student", S1.key)


def test_erase_a_semester(engine, database_url) -> None:
    seed(engine)
    result = run_cli("erase", "--semester", S2.key, url=database_url)
    assert result.returncode == 0, result.stderr
    assert "student_reports: 20 row(s) erased" in result.stdout
    assert rows_of(engine) == {"cleaned_features": 20, "grade_predictions": 20, "student_reports": 20}
    assert [s.period for s in semester_statuses(engine)] == [S1]
    (row,) = audit(engine)
    assert (row.scope, row.semester, row.counts["student_reports"]) == ("semester", S2.key, 20)


@pytest.mark.parametrize(("args", "message"), [
    ((), "give --user-id ID, --semester START_END, or both"),
    (("--semester", "2026-02-30_2026-06-30"), "impossible date"),
    (("--user-id", " "), "the user_id is empty"),
])
def test_bad_arguments_get_a_message_and_erase_nothing(engine, database_url, args, message) -> None:
    seed(engine)
    result = run_cli("erase", *args, url=database_url)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert audit(engine) == [] and rows_of(engine)["student_reports"] == 40


@pytest.fixture
def refusing_prediction_deletes(engine):
    """A database that refuses deleting from grade_predictions, to break an erasure midway."""
    if is_postgres(engine):
        create = ["CREATE FUNCTION gw_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
                  "LANGUAGE plpgsql",
                  "CREATE TRIGGER gw_refuse BEFORE DELETE ON grade_predictions FOR EACH ROW "
                  "EXECUTE FUNCTION gw_refuse()"]
        drop = ["DROP TRIGGER gw_refuse ON grade_predictions", "DROP FUNCTION gw_refuse()"]
    else:
        create = ["CREATE TRIGGER gw_refuse BEFORE DELETE ON grade_predictions "
                  "BEGIN SELECT RAISE(ABORT, 'refused'); END"]
        drop = ["DROP TRIGGER gw_refuse"]
    with engine.begin() as conn:
        for statement in create:
            conn.exec_driver_sql(statement)
    yield
    with engine.begin() as conn:
        for statement in drop:
            conn.exec_driver_sql(statement)


def test_a_failed_erasure_erases_nothing(engine, refusing_prediction_deletes) -> None:
    seed(engine)
    before = rows_of(engine)
    with pytest.raises(sa.exc.DBAPIError, match="refused"):
        erase(engine, user_id=STUDENT)
    assert rows_of(engine) == before and audit(engine) == []
    assert semester_status(engine, S1).version == 1
