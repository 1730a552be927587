"""``grade_predictions`` and the prediction columns of ``student_reports``.

A semester's predictions are recorded in ONE transaction: the history row of every prediction
and the latest prediction on each student's report, so the report never mixes two runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.semesters import Period
from gradewatch.storage.db import is_postgres, run_in_transaction
from gradewatch.storage.partitions import analyze_semester, ensure_semester_partitions, semester_table
from gradewatch.storage.pg_copy import copy_frame
from gradewatch.storage.reports import MERGE_WORK_MEM, float8_array, text_array
from gradewatch.storage.tables import (
    cleaned_features,
    grade_predictions,
    in_semester,
    latest_prediction,
    same_semester,
    student_reports,
)

CHAMPION = "champion"  # only the champion's rows reach reports; 'shadow' rows sit beside them
PREDICTION_COLUMNS = (
    "user_id",
    "predicted_grade",
    "interval_lower",
    "interval_upper",
    "probability_below_pass",
    "at_risk",
)


ROLES = ("champion", "shadow")


def record_predictions(
    engine: Engine, period: Period, predictions: pd.DataFrame, model_version: str, predicted_at: datetime,
    *, role: str = "champion", reasons: Callable[[], Sequence[object]] | None = None,
) -> int:
    """Store one prediction run for ``period``; returns the number of students predicted.

    A ``shadow`` run (the kept challenger, scored beside the champion) writes history rows only:
    the students' reports keep showing the champion's prediction. The students' reasons go to
    ``grade_predictions.reasons``: per student a list of reason dicts, or that list already as
    JSON text (``explain.Reasons.as_json``, which skips a ``json.dumps`` per student on the hot
    path), given as a ``reasons`` column of ``predictions`` or computed by the callable
    ``reasons``. If computing them fails, nothing is stored.

    On PostgreSQL the callable runs in a thread of its own while the server updates the
    reports, and the history rows wait for it in the same transaction: the attribution (this
    process's CPU) overlaps the UPDATE (the server's). On SQLite the database work runs in this
    process, on the same cores and under the same GIL: overlapping them measured slower, and
    the write lock would wait for the attribution; the callable runs before the transaction.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack columns {missing}")
    if reasons is not None and is_postgres(engine):
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reasons") as pool:
            return _record(engine, period, predictions, model_version, predicted_at, role,
                           pool.submit(reasons).result)
    if reasons is not None:
        computed = reasons()
        return _record(engine, period, predictions, model_version, predicted_at, role, lambda: computed)
    given = predictions["reasons"].tolist() if "reasons" in predictions.columns else [None] * len(predictions)
    return _record(engine, period, predictions, model_version, predicted_at, role, lambda: given)


def _record(engine: Engine, period: Period, predictions: pd.DataFrame, model_version: str,
            predicted_at: datetime, role: str, reasons: Callable[[], Sequence[object]]) -> int:
    """:func:`record_predictions` once the reasons' source is known; ``reasons`` is called
    after the reports are updated."""

    def reasons_json() -> list[str | None]:
        given = reasons()
        if len(given) != len(predictions):
            raise ValueError(f"{len(given)} students' reasons for {len(predictions)} predictions")
        return [_json(why) for why in given]

    def as_rows(reasons: list[str | None]) -> list[dict]:
        return [
            {
                "start_date_period": period.start,
                "end_date_period": period.end,
                "model_version": model_version,
                "predicted_at": predicted_at,
                "role": role,
                "user_id": str(r.user_id),
                "predicted_grade": float(r.predicted_grade),
                "interval_lower": float(r.interval_lower),
                "interval_upper": float(r.interval_upper),
                "probability_below_pass": float(r.probability_below_pass),
                "at_risk": bool(r.at_risk),
                "b_reasons": why,
            }
            for r, why in zip(predictions.loc[:, list(PREDICTION_COLUMNS)].itertuples(index=False), reasons,
                              strict=True)
        ]

    def write(conn: Connection) -> int:
        if predictions.empty:
            return 0
        ensure_semester_partitions(conn, period, (grade_predictions,))
        if is_postgres(conn):
            # The reports first (the champion's run only): the reasons (``reasons_json``) may
            # still be being computed. One UPDATE ... FROM, then COPY of a frame: no statement,
            # and no dict, per student. A shadow run COPYs its history rows the same way (as
            # one INSERT per student, a 1M-student prediction step with a shadow took 50 s, not 14).
            if role == "champion":
                _update_reports_at_once(conn, period, predictions, predicted_at)
            copy_frame(conn, grade_predictions, _history_frame(predictions, reasons_json()), constants={
                "start_date_period": period.start, "end_date_period": period.end,
                "model_version": model_version, "predicted_at": predicted_at, "role": role})
            analyze_semester(conn, grade_predictions, period)  # joined with the reports at evaluation
            return len(predictions)
        if role == "champion":
            t = student_reports
            conn.execute(
                t.update()
                .where(
                    t.c.user_id == sa.bindparam("b_user_id"),
                    in_semester(t, period),
                )
                .values(
                    prediction_final_grade=sa.bindparam("b_grade"),
                    prediction_report_date=sa.bindparam("b_at"),
                ),
                [{"b_user_id": str(user_id), "b_grade": float(grade), "b_at": predicted_at}
                 for user_id, grade in zip(predictions["user_id"].tolist(),
                                           predictions["predicted_grade"].tolist(), strict=True)],
            )
        # The reasons are JSON text already: bound as text (the JSON type would encode them
        # again), cast to json where the column is typed (PostgreSQL; SQLite stores the text).
        text = sa.bindparam("b_reasons", type_=sa.Text())
        reasons_value = sa.cast(text, grade_predictions.c.reasons.type) if is_postgres(conn) else text
        conn.execute(grade_predictions.insert().values(reasons=reasons_value), as_rows(reasons_json()))
        return len(predictions)

    return run_in_transaction(engine, write)


def _json(value: object) -> str | None:
    """A student's reasons as JSON text; text is taken as JSON already."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _history_frame(predictions: pd.DataFrame, reasons: list) -> pd.DataFrame:
    """The per-student columns of one run's ``grade_predictions`` rows, for :func:`copy_frame`."""
    return pd.DataFrame({
        "user_id": predictions["user_id"].astype(str).to_numpy(),
        **{c: predictions[c].to_numpy(dtype="float64") for c in PREDICTION_COLUMNS[1:-1]},
        "at_risk": predictions["at_risk"].astype(bool).to_numpy(),
        "reasons": reasons,
    })


def _update_reports_at_once(conn: Connection, period: Period, predictions: pd.DataFrame,
                            predicted_at: datetime) -> None:
    """PostgreSQL: the reports' prediction columns in ONE ``UPDATE ... FROM unnest(ids, grades)``.

    One UPDATE per student was quadratic right after an upload: with the new semester not yet
    in the table's statistics, the planner estimates one row for the semester and looks each
    student up through the semester index, scanning the whole semester every
    time (100k students: about 17 minutes). The join reads the semester once.
    """
    # The semester's partition itself, not the partitioned table: its statistics (taken when it
    # was loaded) then size the join, and the join is hashed in memory. Through the parent, whose
    # user_id has no statistics, the planner took the join for 5e9 rows and looked each student
    # up through the unique index (2.9 s of a 4.8 s UPDATE at 1M students); with 4 MB of
    # work_mem the hash split into 8 batches, and the UPDATE then walked the partition 8 times
    # (283k page reads instead of 68k). Now 4.1-4.4 s (auto_explain, 1M students).
    t = semester_table(conn, student_reports, period)
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
    # The ids as one delimited text and the grades as one binary float8[] (the upload's arrays):
    # a Python list of 1M values took longer to adapt than the UPDATE took to run.
    stage = sa.func.unnest(
        text_array(predictions["user_id"].astype(str)),
        float8_array(conn, predictions["predicted_grade"]),
    ).table_valued("user_id", "grade").render_derived(name="stage")
    conn.execute(
        t.update()
        .where(
            t.c.user_id == stage.c.user_id,
            in_semester(t, period),
        )
        .values(prediction_final_grade=stage.c.grade, prediction_report_date=predicted_at)
    )



def load_latest_predictions(engine: Engine, period: Period, role: str = "champion") -> pd.DataFrame:
    """Each student's latest prediction for ``period`` beside their final grade and gender.

    The grade and gender are the cleaned ones (``cleaned_features``): a grade typed on a 0-20
    scale or as 999 must not count as a prediction error. ``role="shadow"``: the latest shadow
    run of the semester instead of the champion predictions the reports show.
    """
    t, p, c = student_reports, grade_predictions, cleaned_features
    if role == "champion":
        latest = latest_prediction(p, t)
    else:
        last_run = sa.select(sa.func.max(p.c.predicted_at)).where(p.c.role == role, in_semester(p, period))
        latest = sa.and_(p.c.user_id == t.c.user_id, same_semester(p, t), p.c.role == role,
                         p.c.predicted_at == last_run.scalar_subquery())
    same_student = sa.and_(c.c.user_id == t.c.user_id, same_semester(c, t))
    query = (
        sa.select(
            t.c.user_id, c.c.gender, c.c.final_grade, p.c.predicted_grade, p.c.interval_lower,
            p.c.interval_upper, p.c.probability_below_pass, p.c.at_risk, p.c.model_version,
        )
        .select_from(t.join(p, latest).outerjoin(c, same_student))
        .where(in_semester(t, period))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    columns = ["user_id", "gender", "final_grade", "predicted_grade", "interval_lower",
               "interval_upper", "probability_below_pass", "at_risk", "model_version"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["final_grade"] = pd.to_numeric(frame["final_grade"], errors="coerce").astype("float64")
    return frame


def count_measurable(engine: Engine, period: Period) -> int:
    """Students of ``period`` with both a final grade and a prediction in their uploaded report."""
    t = student_reports
    query = sa.select(sa.func.count()).where(in_semester(t, period), t.c.final_grade.is_not(None),
                                             t.c.prediction_final_grade.is_not(None))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
