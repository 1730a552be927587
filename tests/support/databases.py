"""Scratch databases for the tests."""

from __future__ import annotations

from gradewatch.storage import make_engine, metadata


def empty_postgres(url: str) -> None:
    """Empty every application table of a migrated PostgreSQL database."""
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()
