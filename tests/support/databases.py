"""Scratch databases for the tests."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from gradewatch.storage import make_engine, metadata
from gradewatch.storage.db import run_in_transaction
from gradewatch.storage.migrate import migrations_dir


@contextmanager
def writer_inside_its_transaction(engine: Engine, work: Callable[[sa.Connection], object]) -> Iterator[Future]:
    """Another writer of this process (a thread, as the web app's): ``work`` done inside its
    transaction, which stays open until the block ends; yields the writer's future."""
    inside, release = threading.Event(), threading.Event()

    def hold(conn: sa.Connection) -> object:
        result = work(conn)
        inside.set()
        assert release.wait(60)
        return result

    with ThreadPoolExecutor(1) as pool:
        writer = pool.submit(run_in_transaction, engine, hold, wait_seconds=60)
        assert inside.wait(60)
        try:
            yield writer
        finally:
            release.set()


def waiting_on_a_lock(engine: Engine) -> bool:
    """Whether a session of this PostgreSQL database waits for a lock another one holds."""
    with engine.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'").scalar_one())


def until_blocked_or_done(engine: Engine, done: threading.Event, polls: int = 2000) -> None:
    """Poll until a concurrent transaction waits for our lock, or has (wrongly) finished."""
    for _ in range(polls):
        if done.is_set() or waiting_on_a_lock(engine):
            return
        done.wait(0.01)


@contextmanager
def fresh_postgres_engine(url: str) -> Iterator[Engine]:
    """An engine on the emptied session PostgreSQL database (tests of PostgreSQL-only races)."""
    empty_postgres(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()

POSTGRES_ADMIN_URL = os.environ.get(
    "GRADEWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """The URL of a new, empty (unmigrated) PostgreSQL database, dropped afterwards."""
    name = f"gw_scratch_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


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
