"""Scratch databases for the tests."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from gradewatch.storage import make_engine, metadata
from gradewatch.storage.migrate import migrations_dir


def empty_postgres(url: str) -> None:
    """Empty every application table of a migrated PostgreSQL database."""
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


def head_revision() -> str:
    """The newest Alembic revision: what a freshly migrated database reports."""
    return ScriptDirectory(str(migrations_dir())).get_current_head()
