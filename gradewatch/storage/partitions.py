"""PostgreSQL: the per-student tables partitioned by semester (migration 0003); retention.

``student_reports``, ``cleaned_features`` and ``grade_predictions`` are declared
``PARTITION BY RANGE (start_date_period, end_date_period)`` with one partition per semester,
bounded ``FROM (start, end) TO (start, end + 1 day)``: exactly the rows of that semester. A query
that names the semester (every query of the code does) is pruned to that one partition, and an
old semester leaves as a whole with :func:`drop_semester` (detach, then drop: no row-by-row
delete, no bloat). There is no default partition: every writer makes sure its semester's
partition exists first (:func:`ensure_semester_partitions`), which costs one catalog lookup.

The first upload of a semester loads a bare table (no index) and attaches it as the partition,
so that the indexes are built once over the loaded rows (see ``reports``).

SQLite keeps its single tables: every function here is a no-op there, and :func:`drop_semester`
deletes the semester's rows.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradewatch.semesters import Period
from gradewatch.storage.db import is_postgres, run_in_transaction, utcnow
from gradewatch.storage.semesters import lock_semester, record_semester_change
from gradewatch.storage.tables import cleaned_features, grade_predictions, in_semester, student_reports

PARTITIONED_TABLES = (student_reports, cleaned_features, grade_predictions)
# student_reports is updated in place (every re-upload, every prediction run): half of each
# page stays free, so a row's new version fits on its own page with no new index entry
# (a HOT update). Migration 0005 has the measurements.
REPORTS_FILLFACTOR = 50
_PARTITION_NAME = re.compile(r"[a-z_]+_\d{8}_\d{8}")
# Another transaction created the same partition first: duplicate table, or the catalog's
# unique key on type names when both ran at once.
_CREATED_MEANWHILE = {"42P07", "23505"}


def partition_name(table: sa.Table, period: Period) -> str:
    # isoformat, not %Y: strftime writes the year 1 as "1", and the name must have 8 digits.
    return f"{table.name}_{period.start.isoformat().replace('-', '')}_{period.end.isoformat().replace('-', '')}"


def _bounds(period: Period) -> str:
    # The day after the end, or MAXVALUE for a semester ending on the calendar's last day.
    after = "MAXVALUE" if period.end == date.max else f"'{(period.end + timedelta(days=1)).isoformat()}'"
    return f"FROM ('{period.start.isoformat()}', '{period.end.isoformat()}') TO ('{period.start.isoformat()}', " \
           f"{after})"


def is_partitioned(conn: Connection) -> bool:
    """Whether this database holds the partitioned tables (PostgreSQL after migration 0003)."""
    if not is_postgres(conn):
        return False
    return conn.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'student_reports' AND c.relnamespace = 'public'::regnamespace)"
    ).scalar_one()


def partition_exists(conn: Connection, table: sa.Table, period: Period) -> bool:
    return conn.exec_driver_sql("SELECT to_regclass(%(name)s) IS NOT NULL",
                                {"name": partition_name(table, period)}).scalar_one()


def semester_table(conn: Connection, table: sa.Table, period: Period) -> sa.Table:
    """The table that holds ``period``'s rows of ``table``: its partition, or ``table`` itself.

    Writing to the partition directly skips the routing and lets RETURNING read system columns.
    """
    if not is_partitioned(conn):
        return table
    return sa.Table(partition_name(table, period), sa.MetaData(),
                    *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in table.columns))


def is_partition_name(name: str) -> bool:
    """Whether ``name`` is a semester partition (not a declared table: migration checks skip it)."""
    return any(_PARTITION_NAME.fullmatch(name) and name.startswith(f"{t.name}_") for t in PARTITIONED_TABLES)


def ensure_semester_partitions(conn: Connection, period: Period,
                               tables: tuple[sa.Table, ...] = PARTITIONED_TABLES) -> None:
    """Create the semester's partition of each of ``tables`` that lacks one (PostgreSQL)."""
    if not is_partitioned(conn):
        return
    for table in tables:
        if partition_exists(conn, table, period):
            continue
        _create_once(conn, f"CREATE TABLE {partition_name(table, period)} PARTITION OF {table.name} "
                           f"FOR VALUES {_bounds(period)}{_storage(table)}")


def _storage(table: sa.Table) -> str:
    return f" WITH (fillfactor = {REPORTS_FILLFACTOR})" if table is student_reports else ""


def _create_once(conn: Connection, statement: str) -> bool:
    """Run a CREATE in a savepoint; False when a concurrent transaction created it first."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(statement)
    except sa.exc.DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) not in _CREATED_MEANWHILE:
            raise
        return False
    return True


def create_bare_partition(conn: Connection, table: sa.Table, period: Period) -> str:
    """A table shaped like ``table`` (defaults and checks, no index) to load, then attach."""
    name = partition_name(table, period)
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                         f"{_storage(table)}")
    return name


def attach_partition(conn: Connection, table: sa.Table, period: Period) -> None:
    """Attach a loaded bare table: PostgreSQL builds the parent's indexes on it now, once."""
    conn.exec_driver_sql(f"ALTER TABLE {table.name} ATTACH PARTITION {partition_name(table, period)} "
                         f"FOR VALUES {_bounds(period)}")


def analyze_semester(conn: Connection, table: sa.Table, period: Period) -> None:
    """Refresh the planner's statistics of the semester's partition, in the writer's transaction.

    Call it after bulk-loading a semester. A freshly loaded partition has none until autovacuum
    gets to it, so the planner takes it for one row and joins the next statement's tables by
    nested loops: the evaluation run's join of reports, predictions and cleaned features, read
    right after the semester run, took 173 s at 10k students and grew with the square of the
    size. ANALYZE samples a fixed number of rows (a fraction of a second at 1M) and blocks no
    reader or writer (only another ANALYZE or VACUUM of the same partition).
    A JSON document (the reasons) is left out: no query filters or joins on one, and sampling
    them cost more than all the other columns together.
    """
    if is_partitioned(conn):
        columns = ", ".join(c.name for c in table.columns if not isinstance(c.type, sa.JSON))
        conn.exec_driver_sql(f"ANALYZE {partition_name(table, period)} ({columns})")


def _locked_partition_rows(conn: Connection, table: sa.Table, period: Period) -> tuple[str, int] | None:
    """Lock ``period``'s partition of ``table`` for removal; its name and rows, None if it has none.

    The lock comes before the count: a writer without the semester's lock (a semester run) may
    still be adding rows, the removal would wait for it and then take rows that a count taken
    before the wait did not see.
    """
    if not partition_exists(conn, table, period):
        return None
    name = partition_name(table, period)
    conn.exec_driver_sql(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
    return name, int(conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one())


def empty_semester_partition(conn: Connection, table: sa.Table, period: Period) -> int | None:
    """PostgreSQL: empty ``period``'s partition of ``table`` with ``TRUNCATE``; the rows it held.

    None when the table is not partitioned (SQLite, or before migration 0003): the caller deletes.
    The rows leave at once and their files are unlinked at commit: no row-by-row delete, and no
    dead rows keeping the semester's values on disk until a vacuum. The lock is the partition's
    alone: readers of other semesters go on; readers of this one wait for the commit.
    """
    if not is_partitioned(conn):
        return None
    locked = _locked_partition_rows(conn, table, period)
    if locked is None:
        return 0
    name, rows = locked
    conn.exec_driver_sql(f"TRUNCATE {name}")
    return rows


def empty_partition_for_loading(conn: Connection, table: sa.Table, period: Period) -> bool:
    """Whether ``period``'s existing partition of ``table`` is empty and may be loaded frozen.

    An erasure empties a semester's partitions and keeps them, so the semester's next first
    upload finds its partition in place. Locked (writers without the semester's lock finish
    first) and still empty, it is truncated here, in the caller's savepoint, which is what
    ``COPY ... FREEZE`` asks of a table. False when it holds rows: load it without freezing.
    """
    locked = _locked_partition_rows(conn, table, period)
    if locked is None or locked[1]:
        return False
    conn.exec_driver_sql(f"TRUNCATE {locked[0]}")
    return True


def drop_semester(engine: Engine, period: Period) -> dict[str, int]:
    """Retention: remove a whole semester from the per-student tables; the rows removed per table.

    On PostgreSQL each partition is detached and dropped (no row-by-row delete, no dead rows
    left behind, and the semester's partitions are gone from the catalog, unlike an erasure's
    TRUNCATE, which keeps them for the semester's next upload); on SQLite the rows are deleted.
    Models already trained keep what they learnt. The semester's ``semester_versions`` row is
    recounted (to zero) and its version bumped in the same transaction, under the semester's
    lock as an upload takes it: the sensors read that row, never these tables.
    """
    def work(conn: Connection) -> dict[str, int]:
        now = utcnow()
        lock_semester(conn, period, now)
        partitioned = is_partitioned(conn)
        counts = {}
        for table in PARTITIONED_TABLES:
            if not partitioned:
                counts[table.name] = conn.execute(table.delete().where(in_semester(table, period))).rowcount
                continue
            locked = _locked_partition_rows(conn, table, period)
            counts[table.name] = 0 if locked is None else locked[1]
            if locked is not None:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} DETACH PARTITION {locked[0]}")
                conn.exec_driver_sql(f"DROP TABLE {locked[0]}")
        record_semester_change(conn, period, now)
        return counts

    return run_in_transaction(engine, work)
