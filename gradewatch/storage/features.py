"""``student_reports`` in, ``cleaned_features`` out: the SQL side of the cleaning step.

A semester's cleaned rows are replaced in ONE transaction (delete, then insert), so a crash
or a failed insert leaves the previous version of the semester intact, never half of one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch import schema
from gradewatch.plain import plain
from gradewatch.semesters import Period
from gradewatch.storage.db import is_postgres, run_in_transaction, utcnow
from gradewatch.storage.partitions import ensure_semester_partitions
from gradewatch.storage.tables import cleaned_features, in_semester, student_reports

REPORT_COLUMNS = (schema.USER_ID, schema.START, schema.END, *schema.FEATURES, schema.FINAL_GRADE,
                  "updated_at")
CLEANED_COLUMNS = (schema.USER_ID, schema.START, schema.END, *schema.FEATURES, schema.FINAL_GRADE,
                   "quality_flags", "excluded", "cleaned_at")
_INSERT_BATCH = 10_000


def load_semester_reports(engine: Engine, period: Period) -> pd.DataFrame:
    """One semester's stored rows with the canonical columns and ``updated_at``, in id order."""
    query = (sa.select(*(student_reports.c[c] for c in REPORT_COLUMNS))
             .where(in_semester(student_reports, period))
             .order_by(student_reports.c.id))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return _typed(pd.DataFrame(rows, columns=list(REPORT_COLUMNS)))


def replace_cleaned_features(engine: Engine, period: Period, frame: pd.DataFrame) -> int:
    """Replace the semester's rows of ``cleaned_features`` with ``frame``; returns rows written.

    ``frame`` is a cleaning result: canonical columns, ``quality_flags`` and ``excluded``. Its
    period columns, when filled, must be this semester.
    """
    _check_period(frame, period)
    columns = _columns(frame, period)
    count = len(frame)

    def work(conn: Connection) -> int:
        ensure_semester_partitions(conn, period, (cleaned_features,))
        conn.execute(sa.delete(cleaned_features).where(in_semester(cleaned_features, period)))
        if is_postgres(conn):  # COPY: several times faster than an executemany of INSERTs
            copy_rows(conn, cleaned_features, list(columns), zip(*columns.values(), strict=True))
            return count
        records = _records(columns)
        for offset in range(0, len(records), _INSERT_BATCH):
            conn.execute(sa.insert(cleaned_features), records[offset:offset + _INSERT_BATCH])
        return len(records)

    return run_in_transaction(engine, work)


def copy_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """PostgreSQL: ``COPY table (columns) FROM STDIN`` of ``rows``, in ``conn``'s transaction.

    A refused row raises SQLAlchemy's exception (IntegrityError, ...), as an INSERT would.
    """
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    raw = conn.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def load_cleaned_features(engine: Engine, semesters: Iterable[Period] | None = None) -> pd.DataFrame:
    """Cleaned rows of the given semesters (all semesters when None), by semester then id."""
    query = sa.select(*(cleaned_features.c[c] for c in CLEANED_COLUMNS)).order_by(
        cleaned_features.c.start_date_period, cleaned_features.c.end_date_period,
        cleaned_features.c.id)
    if semesters is not None:
        wanted = list(semesters)
        if not wanted:
            return _typed(pd.DataFrame(columns=list(CLEANED_COLUMNS)))
        query = query.where(sa.or_(*(in_semester(cleaned_features, p) for p in wanted)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = _typed(pd.DataFrame(rows, columns=list(CLEANED_COLUMNS)))
    frame["excluded"] = frame["excluded"].astype(bool)
    frame["quality_flags"] = frame["quality_flags"].fillna("").astype(object)
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for name in ("attendance_rate", "study_hours_per_week", "previous_grade", schema.FINAL_GRADE):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame["extracurricular_activities_count"] = pd.to_numeric(
        frame["extracurricular_activities_count"], errors="coerce").astype("Int64")
    for name in (schema.USER_ID, "gender", "parental_support", schema.START, schema.END):
        frame[name] = frame[name].astype(object)
    return frame


def _check_period(frame: pd.DataFrame, period: Period) -> None:
    for column, expected in ((schema.START, period.start), (schema.END, period.end)):
        if column in frame.columns:
            filled = frame[column].dropna()
            wrong = filled[filled.map(lambda d, e=expected: pd.Timestamp(d).date() != e)]
            if len(wrong):
                raise ValueError(f"{len(wrong)} rows of the frame belong to another semester "
                                 f"than {period.key}")


def _columns(frame: pd.DataFrame, period: Period) -> dict[str, list[Any]]:
    """The rows to write, column by column, as plain Python values (None for missing)."""
    now = utcnow()
    n = len(frame)
    columns: dict[str, list[Any]] = {}
    for name in (schema.USER_ID, *schema.FEATURES, schema.FINAL_GRADE):
        values = frame[name].astype(object).to_numpy() if name in frame.columns else np.full(n, None)
        columns[name] = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                         else plain(v) for v in values]
    flags = frame["quality_flags"] if "quality_flags" in frame.columns else pd.Series([""] * n)
    excluded = frame["excluded"] if "excluded" in frame.columns else pd.Series([False] * n)
    columns["quality_flags"] = flags.fillna("").astype(str).tolist()
    columns["excluded"] = excluded.fillna(False).astype(bool).tolist()
    columns[schema.START] = [period.start] * n
    columns[schema.END] = [period.end] * n
    columns["cleaned_at"] = [now] * n
    return columns


def _records(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
