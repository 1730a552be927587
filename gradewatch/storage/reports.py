"""``student_reports``: the bulk upsert of an upload, grade updates, and report reads.

One upload is ONE transaction, and the uploads of a semester take turns on its version row
(``lock_semester``). On SQLite the rows merge with one INSERT ... ON CONFLICT, in key order.
On PostgreSQL one ``MERGE`` joins the staged rows with the stored ones once, updates the rows
that differ and inserts the new ones in that same pass (see :func:`_merge_changed_rows`); the
partition keeps room on its pages, so those updates stay on their pages (migration 0005).

On PostgreSQL the rows travel as one array parameter per column (binary ``float8[]`` built
straight from the numpy columns, the ids as one delimited text) and the merge reads them with
``unnest``: no CSV is formatted, no temporary table is written. The first upload of a semester
(no stored rows yet) skips the merge: a binary COPY, in key order and inside a savepoint,
stores the rows straight into a bare partition, frozen (see :func:`_copy_into_new_semester`).
If rows of the same students were stored meanwhile (a caller that does not hold the
semester's lock), the unique key refuses the COPY, the savepoint is rolled back and the
``MERGE`` runs instead.
On SQLite the rows are staged in a temporary table, keyed by user_id, by a bulk executemany.
The key matters: without it SQLite's planner (no statistics on a fresh temporary table) ran the
join that counts existing rows as a loop over the semester's stored rows with a full scan of
the staged rows inside (EXPLAIN QUERY PLAN: "SEARCH student_reports USING INDEX" on the semester
then "SCAN stage_reports"), which made a re-upload quadratic in the semester's size.

An empty cell never erases a value already stored: every value column merges as
``COALESCE(new, stored)``, and the merge counts the cells it kept that way.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from gradewatch import schema
from gradewatch.semesters import Period
from gradewatch.storage.db import is_postgres
from gradewatch.storage.partitions import (
    analyze_semester,
    attach_partition,
    create_bare_partition,
    empty_partition_for_loading,
    ensure_semester_partitions,
    is_partitioned,
    partition_exists,
    partition_name,
    semester_table,
)
from gradewatch.storage.pg_copy import copy_frame
from gradewatch.storage.pg_merge import Merge, execute_merge
from gradewatch.storage.tables import (
    cleaned_features,
    grade_predictions,
    in_semester,
    same_semester,
    student_reports,
)

REPORT_VALUE_COLUMNS = (*schema.FEATURES, schema.FINAL_GRADE)
_STAGE_COLUMNS = (schema.USER_ID, *REPORT_VALUE_COLUMNS)
# PostgreSQL: the hash join of a semester's stored rows with an upload's or a prediction run's
# rows, in memory (for that transaction only; about 120 MB at 1M students).
MERGE_WORK_MEM = "160MB"
_SQL_TYPES = {
    schema.USER_ID: "TEXT",
    "gender": "TEXT",
    "parental_support": "TEXT",
    "extracurricular_activities_count": "INTEGER",
}


@dataclass(frozen=True)
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    # Empty cells of the file whose stored value was kept (never erased by an empty cell).
    cells_kept: int = 0


def _create_stage(conn: Connection, name: str, columns: tuple[str, ...]) -> sa.Table:
    # Keyed by user_id (one row per student: the caller keeps the last row of each), so that
    # every join with student_reports is an index lookup whichever side the planner loops on.
    column_sql = ", ".join(f"{c} {_SQL_TYPES.get(c, 'REAL')}" + (" PRIMARY KEY" if c == schema.USER_ID else "")
                           for c in columns)
    # SQLite keeps temporary tables for the connection's life: start from an empty one
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({column_sql})")
    table_columns = [sa.column(c) for c in columns]
    return sa.table(name, *table_columns)


def _stage_rows(conn: Connection, name: str, frame: pd.DataFrame, columns: tuple[str, ...]) -> sa.FromClause:
    """The rows of ``frame`` as a FROM clause named ``name`` with ``columns``."""
    if is_postgres(conn):
        return _array_stage(conn, name, frame, columns)
    stage = _create_stage(conn, name, columns)
    data = _with_columns(frame, columns).loc[:, list(columns)]
    records = data.astype(object).where(data.notna(), None).itertuples(index=False, name=None)
    placeholders = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {name} VALUES ({placeholders})", list(records))
    return stage


class _Float8Array:
    """A numpy float64 column sent as one binary ``float8[]`` parameter; NaN stands for NULL."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __repr__(self) -> str:  # error messages and logs never carry the values
        return f"<float8[] of {len(self.values)} values>"


class _Float8ArrayDumper(Dumper):
    format = Format.BINARY
    oid = 1022  # float8[]

    def dump(self, obj: _Float8Array) -> memoryview:
        values = obj.values
        if not len(values):
            return memoryview(struct.pack("!iiI", 0, 0, 701))
        # ndim, has-null flag, element oid (float8), dimension, lower bound; then one
        # (length, big-endian value) pair per element, written in place: no copy of the column.
        header = struct.pack("!iiIii", 1, 0, 701, len(values), 1)
        buffer = np.empty(len(header) + 12 * len(values), dtype=np.uint8)
        buffer[:len(header)] = np.frombuffer(header, dtype=np.uint8)
        elements = buffer[len(header):].view([("length", ">i4"), ("value", ">f8")])
        elements["length"] = 8
        elements["value"] = values
        return memoryview(buffer)


_SEPARATOR = "\x1f"  # the ASCII unit separator; the reader refuses files that contain it
_NAN = sa.literal_column("'NaN'::float8")


def _float8_array(values: pd.Series) -> sa.BindParameter:
    numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    return sa.bindparam(None, _Float8Array(numbers), type_=sa.types.NullType())


def _text_array(values: pd.Series) -> sa.ColumnElement:
    """A text column as an array expression: one delimited string when that is exact."""
    items = values.tolist()
    try:
        joined = _SEPARATOR.join(items)
    except TypeError:  # not all str: None, numbers
        joined = None
    if joined is not None and "" not in items and joined.count(_SEPARATOR) == len(items) - 1:
        return sa.func.string_to_array(sa.bindparam(None, joined, type_=sa.Text),
                                       sa.bindparam(None, _SEPARATOR, type_=sa.Text))
    cells = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)
             for v in items]
    return sa.bindparam(None, cells, type_=postgresql.ARRAY(sa.Text))


def float8_array(conn: Connection, values: pd.Series) -> sa.BindParameter:
    """PostgreSQL: a numeric column as one binary ``float8[]`` parameter (NaN for NULL)."""
    conn.connection.driver_connection.adapters.register_dumper(_Float8Array, _Float8ArrayDumper)
    return _float8_array(values)


def text_array(values: pd.Series) -> sa.ColumnElement:
    """PostgreSQL: a text column as one ``text[]`` expression (one delimited string when exact)."""
    return _text_array(values)


def _array_stage(conn: Connection, name: str, frame: pd.DataFrame, columns: tuple[str, ...]) -> sa.Subquery:
    """``SELECT unnest(...), ...`` over one array parameter per column, typed like the table.

    Numbers travel as float8 with NaN for NULL; a category column as float8 codes into the
    array of its distinct values (code 0, out of range, reads as NULL).
    """
    conn.connection.driver_connection.adapters.register_dumper(_Float8Array, _Float8ArrayDumper)
    arrays: list[sa.ColumnElement] = []
    finish = []
    for index, column in enumerate(columns):
        label = f"c{index}"
        kind = _SQL_TYPES.get(column)
        values = (frame[column] if column in frame.columns  # a column the file did not carry: NULL
                  else pd.Series(None, index=frame.index, dtype=object))
        if column == schema.USER_ID:
            arrays.append(_text_array(values))
            finish.append(lambda c, column=column: c.label(column))
        elif kind == "TEXT":
            codes, uniques = pd.factorize(values, sort=False)
            arrays.append(_float8_array(pd.Series(codes + 1)))
            categories = sa.sql.elements.Grouping(  # parenthesised, so that it can be subscripted
                sa.bindparam(None, [str(u) for u in uniques], type_=postgresql.ARRAY(sa.Text)))
            finish.append(lambda c, categories=categories, column=column:
                          categories[sa.cast(c, sa.Integer)].label(column))
        else:
            arrays.append(_float8_array(values))
            sql_type = sa.Integer if kind == "INTEGER" else sa.Float
            finish.append(lambda c, sql_type=sql_type, column=column:
                          sa.cast(sa.func.nullif(c, _NAN), sql_type).label(column))
        arrays[-1] = sa.func.unnest(arrays[-1]).label(label)
    unnested = sa.select(*arrays).subquery(f"{name}_arrays")
    return sa.select(*[f(unnested.c[f"c{i}"]) for i, f in enumerate(finish)]).subquery(name)


def upsert_reports(
    conn: Connection, period: Period, frame: pd.DataFrame, now: datetime
) -> MergeCounts:
    """Insert or update one semester's rows; a row whose values are unchanged is not touched.

    An empty cell (``final_grade`` included) never erases a value already stored.
    """
    if frame.empty:
        return MergeCounts()
    if is_postgres(conn):
        ensure_semester_partitions(conn, period, (cleaned_features, grade_predictions))
        if not _semester_has_rows(conn, period):
            inserted = _copy_into_new_semester(conn, period, frame, now)
            if inserted is not None:
                analyze_semester(conn, student_reports, period)  # the semester run joins it next
                return MergeCounts(inserted, 0, len(frame) - inserted)
        ensure_semester_partitions(conn, period, (student_reports,))
    stage = _stage_rows(conn, "stage_reports", frame, _STAGE_COLUMNS)
    # One set-based statement into the semester's own partition when the table is partitioned.
    t = semester_table(conn, student_reports, period)
    staged = len(frame)
    if is_postgres(conn):
        inserted, updated = _merge_changed_rows(conn, period, stage, t, now)
        counts = MergeCounts(inserted, updated, staged - inserted - updated)
    else:
        # SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so counting first is exact.
        existing, updated = conn.execute(
            sa.select(sa.func.count(), sa.func.count().filter(
                _changes(t, _kept_when_empty(t, stage.c))))
            .select_from(stage.join(t, _same_student(period, stage)))
        ).one()
        conn.execute(_upsert(period, sa.select(stage), t, now))
        counts = MergeCounts(staged - existing, updated, existing - updated)
    return dataclasses.replace(counts, cells_kept=_count_kept_cells(conn, period, frame))


def _upsert(period: Period, rows: sa.Select, t: sa.Table, now: datetime) -> sa.Insert:
    """SQLite: ``INSERT`` of ``rows`` (user_id and the value columns) ``ON CONFLICT`` merge.

    The rows go in key order, as every upload's: consecutive index entries.
    """
    rows = rows.subquery("rows")
    new_row = _new_row(period, rows.c, t, now)
    select = (sa.select(*[value.label(name) for name, value in new_row.items()])
              .where(sa.true())  # SQLite needs a WHERE to parse INSERT ... SELECT ... ON CONFLICT
              .order_by(rows.c.user_id))
    insert = sqlite.insert(t).from_select(list(new_row), select)
    merged = _kept_when_empty(t, insert.excluded)
    return insert.on_conflict_do_update(
        index_elements=["user_id", "start_date_period", "end_date_period"],
        set_={**merged, "updated_at": insert.excluded.updated_at},
        where=_changes(t, merged),
    )


def _merge_changed_rows(conn: Connection, period: Period, stage: sa.FromClause, t: sa.Table,
                        now: datetime) -> tuple[int, int]:
    """PostgreSQL: merge the staged rows in ONE ``MERGE``; (inserted, updated).

    One hash join of the staged rows with the semester's stored ones: a stored row that differs
    is updated in that same pass, a new student inserted, an unchanged row costs its share of the
    join and nothing more (a fortnightly re-upload is mostly unchanged rows). The statement this
    replaced found the changed rows with one join and updated them through a second one, by id:
    1M changed rows took 5.3-5.5 s (1.5 s of it that second join), the MERGE 3.2-3.5 s.

    The statement sees one snapshot, taken after the semester's lock (``lock_semester``): the
    uploads of a semester run one after another and every earlier one is in it. A row that a
    prediction run wrote since the snapshot is re-read and re-compared before it is updated
    (see ``pg_merge``): only a real change is written and counted. Should that run and this
    statement wait for each other's rows, PostgreSQL breaks the deadlock and
    ``run_in_transaction`` runs the whole upload again.
    """
    # The join hashes the semester's stored rows in memory, not in 16 batches on disk (about
    # 120 MB at 1M students; the default 4 MB suits many small queries at once).
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
    merged = _kept_when_empty(t, stage.c)
    merge = Merge(
        t, stage, sa.and_(t.c.user_id == stage.c.user_id, in_semester(t, period)),
        update_when=_changes(t, merged),
        update={**merged, "updated_at": sa.literal(now, t.c.updated_at.type)},
        insert=_new_row(period, stage.c, t, now),
    )
    return execute_merge(conn, merge)


def _kept_when_empty(t: sa.Table, new: sa.ColumnCollection) -> dict[str, sa.ColumnElement]:
    """Each value column's merged value: the new one, or the stored one when the new is empty."""
    return {c: sa.func.coalesce(new[c], t.c[c]) for c in REPORT_VALUE_COLUMNS}


def _changes(t: sa.Table, merged: dict[str, sa.ColumnElement]) -> sa.ColumnElement[bool]:
    """Whether merging would change a stored row of ``t``: some merged value differs from it."""
    return sa.or_(*[t.c[c].is_distinct_from(v) for c, v in merged.items()])


def _new_row(period: Period, new: sa.ColumnCollection, t: sa.Table, now: datetime) -> dict[str, sa.ColumnElement]:
    """A new student's row of ``t``, column by column, from ``new`` (user_id and the value columns)."""
    return {
        "user_id": new.user_id,
        "start_date_period": sa.literal(period.start, sa.Date),
        "end_date_period": sa.literal(period.end, sa.Date),
        **{c: new[c] for c in REPORT_VALUE_COLUMNS},
        "created_at": sa.literal(now, t.c.created_at.type),
        "updated_at": sa.literal(now, t.c.updated_at.type),
    }


def _same_student(period: Period, stage: sa.FromClause) -> sa.ColumnElement[bool]:
    t = student_reports
    return sa.and_(t.c.user_id == stage.c.user_id, in_semester(t, period))


def _count_kept_cells(conn: Connection, period: Period, frame: pd.DataFrame) -> int:
    """After the merge: the file's empty cells whose stored value survived it.

    Only the columns the file carries count (a column it lacks is not an empty cell), and
    only its rows with an empty cell are looked at: a complete file costs no query.
    """
    columns = [c for c in REPORT_VALUE_COLUMNS if c in frame.columns]
    with_empty = frame[columns].isna().any(axis=1).to_numpy()
    if not with_empty.any():
        return 0
    stage = _stage_rows(conn, "stage_kept", frame.loc[with_empty], (schema.USER_ID, *columns))
    t = student_reports
    kept = sum(sa.cast(sa.and_(stage.c[c].is_(None), t.c[c].is_not(None)), sa.Integer) for c in columns)
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(kept), 0)).select_from(stage.join(t, _same_student(period, stage)))
    ).scalar_one()
    return int(total)


def _semester_has_rows(conn: Connection, period: Period) -> bool:
    return conn.execute(sa.select(sa.exists().where(in_semester(student_reports, period)))).scalar_one()


# unique violation, deadlock detected, the semester's partition created by another upload
_CONCURRENT_WRITE = {"23505", "40P01", "42P07"}


def _copy_into_new_semester(conn: Connection, period: Period, frame: pd.DataFrame,
                            now: datetime) -> int | None:
    """A binary COPY straight into a semester that had no rows; None when rows of it appeared.

    COPY inserts in batches, about a quarter cheaper than INSERT ... SELECT, and the server
    stores while this process is still writing rows. The rows go in key order: consecutive
    index entries, and the same lock order for every upload. A writer that does not hold the
    semester's lock may store rows of the same students between the check and the COPY; the
    unique key then refuses the COPY (or PostgreSQL breaks a deadlock), the savepoint undoes
    it, and the caller merges instead, which is always correct.

    A bare partition, created in this savepoint (or the semester's partition that an erasure
    emptied and left, truncated again in this savepoint), is loaded with ``FREEZE``: its rows are
    written already frozen and its pages marked all-visible. Otherwise the first statement to
    read them (the next re-upload, the semester run) sets each row's hint bits and so rewrites
    every page of the semester (about 240 MB at 1M students), and a vacuum later freezes them
    all again. Other sessions cannot see the rows before this transaction commits: the
    partition is created and attached in it, or locked by its TRUNCATE until then. (A
    transaction at REPEATABLE READ that began earlier would see them once it commits, COPY
    FREEZE's documented exception; GradeWatch reads at READ COMMITTED, where any committed row
    is seen anyway.)
    """
    rows = pd.DataFrame({
        schema.USER_ID: frame[schema.USER_ID].to_numpy(),
        **{c: frame[c].to_numpy() if c in frame.columns else None for c in REPORT_VALUE_COLUMNS},
    })
    constants = {"start_date_period": period.start, "end_date_period": period.end,
                 "created_at": now, "updated_at": now}
    if not rows[schema.USER_ID].is_monotonic_increasing:
        rows = rows.sort_values(schema.USER_ID, kind="stable")  # code point order: PostgreSQL's "C"
    partitioned = is_partitioned(conn)
    # A semester without its partition yet: load a bare table, then attach it (indexes built once).
    bare = partitioned and not partition_exists(conn, student_reports, period)
    try:
        with conn.begin_nested():
            target, freeze = student_reports.name, False
            if bare:
                target, freeze = create_bare_partition(conn, student_reports, period), True
            elif partitioned and empty_partition_for_loading(conn, student_reports, period):
                target, freeze = partition_name(student_reports, period), True  # left by an erasure
            copy_frame(conn, student_reports, rows, constants=constants, into=target, freeze=freeze)
            if bare:
                attach_partition(conn, student_reports, period)
    except (psycopg.Error, sa.exc.DBAPIError) as exc:
        if getattr(exc, "orig", exc).sqlstate not in _CONCURRENT_WRITE:
            raise
        return None
    return len(rows)


def update_final_grades(
    conn: Connection, period: Period, frame: pd.DataFrame, now: datetime
) -> tuple[MergeCounts, list[int]]:
    """Set the final grades of students already stored for ``period``.

    Returns the counts and the spreadsheet row numbers whose user_id is not in the semester.
    The counts and the update come from one consistent view of the semester: on PostgreSQL one
    statement (a concurrent erasure or upload cannot slip between a count and the update), on
    SQLite one transaction holding the write lock.
    """
    if frame.empty:
        return MergeCounts(), []
    stage = _stage_rows(conn, "stage_grades", frame, ("row", schema.USER_ID, schema.FINAL_GRADE))
    t = student_reports
    if is_postgres(conn):
        updated, matched, unknown = conn.execute(_grades_statement(period, stage, now)).one()
        unknown = unknown or []
    else:
        unknown = conn.execute(
            sa.select(stage.c.row).select_from(stage.outerjoin(t, _same_student(period, stage)))
            .where(t.c.id.is_(None))
        ).scalars().all()
        updated = conn.execute(
            t.update()
            .values(final_grade=stage.c.final_grade, updated_at=now)
            .where(_same_student(period, stage), t.c.final_grade.is_distinct_from(stage.c.final_grade))
        ).rowcount
        matched = len(frame) - len(unknown)
    return MergeCounts(0, updated, matched - updated), sorted(int(r) for r in unknown)


def _grades_statement(period: Period, stage: sa.FromClause, now: datetime) -> sa.Select:
    """PostgreSQL: lock the semester's rows of the file, update the changed grades, and count
    updated, matched and unknown rows, all in one statement (one snapshot)."""
    t = student_reports
    rows = sa.select(stage).cte("grade_rows")
    matched = (
        sa.select(t.c.id, rows.c.row, rows.c.final_grade,
                  t.c.final_grade.is_distinct_from(rows.c.final_grade).label("differs"))
        .select_from(rows.join(t, _same_student(period, rows)))
        .with_for_update(of=t)
        .cte("matched")
    )
    updated = (
        t.update()
        .values(final_grade=matched.c.final_grade, updated_at=now)
        .where(t.c.id == matched.c.id, matched.c.differs)
        .returning(t.c.id)
        .cte("updated")
    )
    unknown = sa.select(sa.func.array_agg(rows.c.row)).where(
        ~sa.exists().where(matched.c.row == rows.c.row)).scalar_subquery()
    return sa.select(
        sa.select(sa.func.count()).select_from(updated).scalar_subquery(),
        sa.select(sa.func.count()).select_from(matched).scalar_subquery(),
        unknown,
    )


def _with_columns(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with every one of ``columns``; a column the file did not carry is all NULL."""
    missing = [c for c in columns if c not in frame.columns]
    return frame.assign(**{c: None for c in missing}) if missing else frame


def count_rows(engine: Engine, period: Period | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(student_reports)
    if period is not None:
        query = query.where(in_semester(student_reports, period))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


REPORT_EXTRA_COLUMNS = (
    "interval_lower", "interval_upper", "probability_below_pass", "at_risk", "model_version",
    "reasons", "previous_probability_below_pass", "previous_at_risk",
)


@dataclass(frozen=True)
class ReportFilter:
    """Which report rows to keep; the default keeps them all (the full report).

    ``probability_at_least`` / ``probability_below`` bound the probability of failing (a risk
    tier is such a band); ``newly_at_risk``: at risk now, not at risk in the previous run.
    """

    probability_at_least: float | None = None
    probability_below: float | None = None
    at_risk_only: bool = False
    newly_at_risk_only: bool = False


def _champion_run(period: Period, before: sa.ColumnElement | None = None) -> sa.ScalarSelect:
    """The time of the semester's latest champion run (before ``before`` when given)."""
    p = grade_predictions
    query = sa.select(sa.func.max(p.c.predicted_at)).where(
        in_semester(p, period), p.c.role == "champion")
    if before is not None:
        query = query.where(p.c.predicted_at < before)
    return query.scalar_subquery()


def _report_query(period: Period, where: ReportFilter = ReportFilter()) -> sa.Select:
    t, p = student_reports, grade_predictions
    previous = grade_predictions.alias("previous")

    def same_student(q: sa.TableClause) -> sa.ColumnElement[bool]:
        return sa.and_(q.c.user_id == t.c.user_id, same_semester(q, t), q.c.role == "champion")

    # The previous prediction: the student's row of the semester's run before the latest one.
    previous_run = _champion_run(period, before=_champion_run(period))
    join = t.outerjoin(p, sa.and_(same_student(p), p.c.predicted_at == t.c.prediction_report_date))
    join = join.outerjoin(previous, sa.and_(same_student(previous), previous.c.predicted_at == previous_run))
    query = (
        sa.select(*[t.c[c] for c in schema.REPORT_COLUMNS],
                  *[p.c[c] for c in REPORT_EXTRA_COLUMNS[:-2]],
                  previous.c.probability_below_pass.label("previous_probability_below_pass"),
                  previous.c.at_risk.label("previous_at_risk"))
        .select_from(join)
        .where(in_semester(student_reports, period), t.c.prediction_final_grade.is_not(None), t.c.final_grade.is_(None))
    )
    if where.probability_at_least is not None:
        query = query.where(p.c.probability_below_pass >= where.probability_at_least)
    if where.probability_below is not None:
        query = query.where(p.c.probability_below_pass < where.probability_below)
    if where.at_risk_only or where.newly_at_risk_only:
        query = query.where(p.c.at_risk.is_(sa.true()))
    if where.newly_at_risk_only:
        query = query.where(previous.c.at_risk.is_(sa.false()))
    return query


def report_ready(engine: Engine, period: Period) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(_report_query(period).exists())).scalar_one()


def iter_report(engine: Engine, period: Period, where: ReportFilter = ReportFilter(),
                batch_size: int = 5_000) -> Iterator[dict[str, object]]:
    """The semester's predicted, not yet graded rows, riskiest first, streamed in batches."""
    t = student_reports
    query = _report_query(period, where).order_by(
        grade_predictions.c.probability_below_pass.desc().nulls_last(),
        t.c.prediction_final_grade.asc(),
        t.c.user_id,
    )
    with engine.connect().execution_options(stream_results=True, yield_per=batch_size) as conn:
        for row in conn.execute(query):
            yield row._asdict()


def report_counts(engine: Engine, period: Period, tiers: tuple[float, float]) -> dict[str, int]:
    """Counts of the report's rows: all, at risk, newly at risk, and by risk tier."""
    high, moderate = tiers
    rows = _report_query(period).subquery()
    probability, at_risk = rows.c.probability_below_pass, rows.c.at_risk.is_(sa.true())
    query = sa.select(
        sa.func.count().label("students"),
        sa.func.count().filter(at_risk).label("at_risk"),
        sa.func.count().filter(sa.and_(at_risk, rows.c.previous_at_risk.is_(sa.false()))).label("newly_at_risk"),
        sa.func.count().filter(probability >= high).label("high"),
        sa.func.count().filter(sa.and_(probability >= moderate, probability < high)).label("moderate"),
        sa.func.count().filter(probability < moderate).label("low"),
    )
    with engine.connect() as conn:
        return {k: int(v) for k, v in conn.execute(query).one()._mapping.items()}
