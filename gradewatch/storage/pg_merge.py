"""PostgreSQL's ``MERGE`` (15 and later) as a SQLAlchemy statement, which SQLAlchemy 2.0 lacks.

One ``MERGE`` joins the source rows with the target's once and, in that same pass, updates the
matched rows that its condition selects and inserts the unmatched ones. An ``UPDATE ... FROM``
and an ``INSERT ... SELECT`` would each need their own join (at 1M rows, 1 to 1.5 s apiece).
Under READ COMMITTED, a target row changed by another transaction since the statement's
snapshot is re-read, and the join and the ``WHEN`` condition are evaluated again on its
newest version before it is updated, as for an ``UPDATE`` (PostgreSQL's documentation, "MERGE").

Only what GradeWatch uses is supported: ``WHEN MATCHED AND <condition> THEN UPDATE`` and
``WHEN NOT MATCHED THEN INSERT``. The statement's row count is the rows updated plus inserted;
:func:`execute_merge` tells the two apart.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable


class Merge(Executable, ClauseElement):
    """``MERGE INTO target USING source ON on WHEN MATCHED AND changed THEN UPDATE SET ...
    WHEN NOT MATCHED THEN INSERT (...) VALUES (...)``."""

    inherit_cache = False  # built once per upload; the bound arrays make each one different

    def __init__(self, target: sa.Table, source: sa.FromClause, on: sa.ColumnElement[bool], *,
                 update_when: sa.ColumnElement[bool], update: Mapping[str, sa.ColumnElement],
                 insert: Mapping[str, sa.ColumnElement]) -> None:
        self.target, self.source, self.on = target, source, on
        self.update_when, self.update, self.insert = update_when, dict(update), dict(insert)


@compiles(Merge, "postgresql")
def _compile_merge(merge: Merge, compiler: sa.sql.compiler.SQLCompiler, **kw: object) -> str:
    def sql(element: ClauseElement, **extra: object) -> str:
        return compiler.process(element, **{**kw, **extra})

    assignments = ", ".join(f"{compiler.preparer.quote(name)} = {sql(value)}" for name, value in merge.update.items())
    columns = ", ".join(compiler.preparer.quote(name) for name in merge.insert)
    values = ", ".join(sql(value) for value in merge.insert.values())
    return (f"MERGE INTO {sql(merge.target, asfrom=True)} USING {sql(merge.source, asfrom=True)} "
            f"ON {sql(merge.on)} "
            f"WHEN MATCHED AND ({sql(merge.update_when)}) THEN UPDATE SET {assignments} "
            f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})")


def execute_merge(conn: Connection, merge: Merge) -> tuple[int, int]:
    """Run ``merge``; the rows it inserted and the rows it updated.

    PostgreSQL keeps per-transaction counters of the rows inserted into and updated in every
    table (``pg_stat_xact_user_tables``), exact and free to read: their differences across the
    statement tell its inserted and updated rows apart, which its row count (their sum) does not.
    They are kept while ``track_counts`` is on, the default that autovacuum needs; with it off,
    the target's rows are counted before and after instead (a scan of it each time), which is
    exact only while no other transaction adds or removes rows of it, as the semester's lock
    ensures for an upload. The counters see this transaction's work only.
    """
    if not conn.exec_driver_sql("SELECT current_setting('track_counts')::bool").scalar_one():
        rows_before = _row_count(conn, merge.target)
        affected = conn.execute(merge).rowcount
        inserted = _row_count(conn, merge.target) - rows_before
        return inserted, affected - inserted
    inserted_before, updated_before = _counters(conn, merge.target)
    conn.execute(merge)
    inserted_after, updated_after = _counters(conn, merge.target)
    return inserted_after - inserted_before, updated_after - updated_before


def _counters(conn: Connection, table: sa.Table) -> tuple[int, int]:
    inserted, updated = conn.exec_driver_sql(
        "SELECT pg_stat_get_xact_tuples_inserted(%(t)s::regclass), pg_stat_get_xact_tuples_updated(%(t)s::regclass)",
        {"t": table.name}).one()
    return int(inserted), int(updated)


def _row_count(conn: Connection, table: sa.Table) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
