"""The Alembic migrations create exactly the tables the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gradewatch.storage.partitions import is_partition_name
from gradewatch.storage.tables import metadata


def test_migrations_match_the_declared_tables(engine) -> None:
    with engine.connect() as conn:
        # A semester's partition (PostgreSQL) is created at run time, not declared.
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, kind, _parents: not (kind == "table" and is_partition_name(name)),
        })
        differences = compare_metadata(context, metadata)
    assert differences == []
