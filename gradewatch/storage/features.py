"""``student_reports`` in, ``cleaned_features`` out: the SQL side of the cleaning step.

A semester's cleaned rows are replaced in ONE transaction (emptied, then loaded), so a crash
or a failed insert leaves the previous version of the semester intact, never half of one.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch import schema
from gradewatch.plain import plain
from gradewatch.semesters import Period, other_dates
from gradewatch.storage.db import is_postgres, run_in_transaction, utcnow
from gradewatch.storage.partitions import (
    analyze_semester,
    ensure_semester_partitions,
    is_partitioned,
    partition_name,
)
from gradewatch.storage.pg_copy import copy_frame
from gradewatch.storage.tables import cleaned_features, in_semester, student_reports

REPORT_COLUMNS = (schema.USER_ID, schema.START, schema.END, *schema.FEATURES, schema.FINAL_GRADE,
                  "updated_at")
CLEANED_COLUMNS = (schema.USER_ID, schema.START, schema.END, *schema.FEATURES, schema.FINAL_GRADE,
                   "quality_flags", "excluded", "cleaned_at")
_INSERT_BATCH = 10_000


def load_semester_reports(engine: Engine, period: Period) -> pd.DataFrame:
    """One semester's stored rows with the canonical columns and ``updated_at``, in id order."""
    # The semester's dates are the same on every row: filled in here, not sent a million times
    # (a quarter of the text the read parses).
    fetched = tuple(c for c in REPORT_COLUMNS if c not in (schema.START, schema.END))
    query = (sa.select(*(student_reports.c[c] for c in fetched))
             .where(in_semester(student_reports, period))
             .order_by(student_reports.c.id))
    with engine.connect() as conn:
        frame = read_frame(conn, query, fetched)
    dates = {schema.START: period.start, schema.END: period.end}
    return _typed(frame.assign(**{name: np.full(len(frame), day, dtype=object)
                                  for name, day in dates.items()})[list(REPORT_COLUMNS)])


def replace_cleaned_features(engine: Engine, period: Period, frame: pd.DataFrame) -> int:
    """Replace the semester's rows of ``cleaned_features`` with ``frame``; returns rows written.

    ``frame`` is a cleaning result: canonical columns, ``quality_flags`` and ``excluded``. Its
    period columns, when filled, must be this semester.
    """
    _check_period(frame, period)
    count = len(frame)

    def work(conn: Connection) -> int:
        ensure_semester_partitions(conn, period, (cleaned_features,))
        if is_partitioned(conn):
            _replace_partition_rows(conn, period, frame)
            return count
        conn.execute(sa.delete(cleaned_features).where(in_semester(cleaned_features, period)))
        records = _records(_columns(frame, period))
        for offset in range(0, len(records), _INSERT_BATCH):
            conn.execute(sa.insert(cleaned_features), records[offset:offset + _INSERT_BATCH])
        return len(records)

    return run_in_transaction(engine, work)


def _replace_partition_rows(conn: Connection, period: Period, frame: pd.DataFrame) -> None:
    """PostgreSQL: empty the semester's partition and COPY the new rows into it, frozen.

    TRUNCATE, not DELETE: a DELETE of 1M rows marks each one dead, and they stay in the table
    and its indexes (doubling both) until a vacuum. TRUNCATE is transactional like the rest:
    a failure rolls it back with the COPY. It locks this one partition until the commit, so a
    reader of this semester's cleaned rows waits a few seconds instead of reading the old ones.
    A table emptied in the current transaction may be loaded with ``FREEZE``: its rows are
    written frozen and its pages all-visible, so drift and prediction, which read them next,
    do not rewrite every page to set hint bits.
    """
    partition = partition_name(cleaned_features, period)
    conn.exec_driver_sql(f"TRUNCATE {partition}")
    copy_frame(conn, cleaned_features, _cleaned_frame(frame), into=partition, freeze=True, constants={
        schema.START: period.start, schema.END: period.end, "cleaned_at": utcnow()})
    analyze_semester(conn, cleaned_features, period)  # read right after, by drift and predict


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


def writable_column(table: sa.Table, name: str, values: pd.Series) -> pd.Series:
    """``values`` as :func:`copy_frame` should write them into ``table.c[name]``: infinities as
    NULL (as :func:`plain` makes them), whole numbers of an INTEGER column without ``.0``."""
    if isinstance(table.c[name].type, sa.Integer) and not pd.api.types.is_integer_dtype(values):
        return pd.to_numeric(values).astype("Int64")
    if pd.api.types.is_float_dtype(values):
        return values.where(np.isfinite(values))
    return values


def _cleaned_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`replace_cleaned_features` writes, as a frame for :func:`copy_frame`
    (the semester and the time of the cleaning go in as its constants)."""
    n = len(frame)
    data: dict[str, Any] = {}
    for name in (schema.USER_ID, *schema.FEATURES, schema.FINAL_GRADE):
        values = (frame[name].reset_index(drop=True) if name in frame.columns
                  else pd.Series([None] * n, dtype=object))
        data[name] = writable_column(cleaned_features, name, values)
    flags = frame["quality_flags"] if "quality_flags" in frame.columns else pd.Series([""] * n)
    excluded = frame["excluded"] if "excluded" in frame.columns else pd.Series([False] * n)
    data["quality_flags"] = flags.fillna("").astype(str).reset_index(drop=True)
    data["excluded"] = excluded.fillna(False).astype(bool).reset_index(drop=True)
    return pd.DataFrame(data)


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
        frame = _typed(read_frame(conn, query, CLEANED_COLUMNS))
    frame["excluded"] = frame["excluded"].astype(bool)
    frame["quality_flags"] = frame["quality_flags"].fillna("").astype(object)
    return frame


USABLE_COLUMNS = (*schema.FEATURES, schema.FINAL_GRADE)


def load_usable_rows(engine: Engine, period: Period, *, with_user_id: bool = False,
                     waiting_only: bool = False) -> pd.DataFrame:
    """A semester's usable cleaned rows (not excluded), in id order: the features and the final
    grade, with ``user_id`` first when asked; ``waiting_only`` keeps the rows without a grade.

    Drift, prediction and the accuracy estimate each read the semester: the filters run in the
    database and the columns none of them reads (flags, dates, times) stay there, which at 1M
    rows halves what crosses the wire and what pandas parses.
    """
    c = cleaned_features
    names = ((schema.USER_ID,) if with_user_id else ()) + USABLE_COLUMNS
    query = sa.select(*(c.c[name] for name in names)).where(in_semester(c, period), c.c.excluded.is_(sa.false()))
    if waiting_only:
        query = query.where(c.c.final_grade.is_(None))
    with engine.connect() as conn:
        return _typed(read_frame(conn, query.order_by(c.c.id), names))


GRADED_HISTORY_COLUMNS = (schema.USER_ID, schema.START, schema.END, *schema.FEATURES, schema.FINAL_GRADE)


def load_graded_history(engine: Engine) -> pd.DataFrame:
    """Every usable cleaned row with a final grade, over all semesters, by semester then id.

    Only what training and its data version read: the filter runs in the database and the
    flags and timestamps stay there, so a district's history is not read whole to keep a part.
    """
    c = cleaned_features
    query = (sa.select(*(c.c[name] for name in GRADED_HISTORY_COLUMNS))
             .where(c.c.excluded.is_(sa.false()), c.c.final_grade.is_not(None))
             .order_by(c.c.start_date_period, c.c.end_date_period, c.c.id))
    with engine.connect() as conn:
        return _typed(read_frame(conn, query, GRADED_HISTORY_COLUMNS))


# NULL travels in the CSV of COPY as this marker, so an empty string stays one. It holds the
# ASCII unit separator, which the upload reader refuses in any file (reports.py uses it as a
# delimiter for the same reason): no stored text can be mistaken for it. Short, because pandas
# cuts a long na_rep in float columns.
_CSV_NULL = "\x1fN\x1f"
_BOOLEANS = ("excluded",)
_TIMESTAMPS = ("updated_at", "cleaned_at")
_DATES = (schema.START, schema.END)


def read_frame(conn: Connection, query: sa.Select, columns: Sequence[str]) -> pd.DataFrame:
    """The rows of ``query`` as a frame of ``columns`` (values as fetched; ``_typed`` types them).

    On PostgreSQL the rows leave the server by ``COPY (query) TO STDOUT`` as CSV and pandas'
    C parser reads them: at 1M rows, fetching Python tuples and stacking them into a frame
    (``pd.DataFrame(rows)``, which also tries every object column as dates) was the largest
    cost of a semester run. Dates come back as ``date`` objects, timestamps as datetime64,
    booleans as ``bool``, as the driver would give them, and numbers as float64 (NaN for NULL),
    which ``_typed`` gives every backend's numbers.
    """
    if not is_postgres(conn):
        return pd.DataFrame(conn.execute(query).all(), columns=list(columns))
    compiled = query.compile(dialect=conn.dialect)
    buffer = io.BytesIO()
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(
        f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, NULL '{_CSV_NULL}')", compiled.params
    ) as copy:
        for block in copy:
            buffer.write(block)
    if not buffer.tell():  # no rows: read_csv refuses an empty text
        return pd.DataFrame(columns=list(columns), dtype=object)
    buffer.seek(0)
    # Numbers straight to float64 by the C parser (NULL as NaN): read as text and converted
    # afterwards, they cost a second per million rows in to_numeric.
    numeric = {c.name for c in query.selected_columns if isinstance(c.type, sa.Float | sa.Integer)}
    frame = pd.read_csv(buffer, header=None, names=list(columns), keep_default_na=False,
                        dtype={name: "float64" if name in numeric else str for name in columns},
                        na_values=[_CSV_NULL], quotechar='"', doublequote=True)
    for name in columns:
        values = frame[name]
        if name in numeric:
            continue
        if name in _DATES:  # a handful of distinct semesters: parse each once
            frame[name] = values.map({v: date.fromisoformat(v) for v in values.dropna().unique()})
        elif name in _TIMESTAMPS:
            frame[name] = pd.to_datetime(values, utc=True, format="ISO8601")
        elif name in _BOOLEANS:
            frame[name] = values.map({"t": True, "f": False})
        else:  # a missing text is None, as the driver gives it
            frame[name] = values.astype(object).where(values.notna(), None)
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for name in ("attendance_rate", "study_hours_per_week", "previous_grade", schema.FINAL_GRADE):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame["extracurricular_activities_count"] = pd.to_numeric(
        frame["extracurricular_activities_count"], errors="coerce").astype("Int64")
    for name in (schema.USER_ID, "gender", "parental_support", schema.START, schema.END):
        if name in frame.columns:  # a read of only the columns a step needs may leave some out
            frame[name] = frame[name].astype(object)
    return frame


def _check_period(frame: pd.DataFrame, period: Period) -> None:
    for column, expected in ((schema.START, period.start), (schema.END, period.end)):
        if column in frame.columns:
            wrong = int(other_dates(frame[column], expected).sum())
            if wrong:
                raise ValueError(f"{wrong} rows of the frame belong to another semester "
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
