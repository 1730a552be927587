"""Engines and transactions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite gives timestamps back without their zone
    (and aggregated ones as text); they were all written in UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_postgres(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "postgresql"


def dialect_insert(conn: Connection):
    """The INSERT construct with ``on_conflict_do_update`` of the connection's dialect."""
    return postgresql.insert if is_postgres(conn) else sqlite.insert


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def masked_url(url: str) -> str:
    """``url`` fit to print: its password, if any, as ``***``."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<a database URL that cannot be parsed>"


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and enforced foreign keys.

    Errors never show bound parameters (``hide_parameters``).
    """
    url = normalise_url(url)
    parsed = sa.make_url(url)
    # A database error's text otherwise quotes the statement's parameters (user_ids, grades),
    # and such texts end up in exception messages and logs.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        # pysqlite's own transaction handling defers BEGIN; take it over so that a
        # transaction begins where SQLAlchemy says, as BEGIN IMMEDIATE (one writer at a time).
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "gradewatch_read_only"  # an execution option: see read_only()


def _sqlite_on_begin(conn: Connection) -> None:
    # A read-only transaction begins DEFERRED: it takes no write lock, so readers (every API
    # request checks its token) do not queue behind an upload.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only; on SQLite its transaction takes no write lock."""
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})


_RETRYABLE_PG_CODES = {"40001", "40P01"}  # serialization failure, deadlock detected
_LOCK_TIMEOUT_PG_CODE = "55P03"  # lock_not_available: lock_timeout ran out
_SQLITE_BUSY_TIMEOUT_MS = 30000  # what _sqlite_on_connect sets; restored after a bounded wait


class StorageBusy(RuntimeError):
    """Other writers held the data longer than the caller agreed to wait; nothing was stored."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(
            f"Another upload to this database was still being stored after {wait_seconds:g} s of "
            "waiting (GRADEWATCH_UPLOAD_WAIT_SECONDS). Nothing from this file was stored; "
            "please send it again in a minute."
        )
        self.wait_seconds = wait_seconds


def _is_retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in _RETRYABLE_PG_CODES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def _is_lock_wait_timeout(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code == _LOCK_TIMEOUT_PG_CODE or (
        isinstance(exc, OperationalError) and "database is locked" in str(exc.orig))


def run_in_transaction(engine: Engine, work: Callable[[Connection], T], *, attempts: int = 5,
                       wait_seconds: float | None = None) -> T:
    """Run ``work`` in one transaction, retrying the whole of it on deadlock or lock contention.

    Either all of ``work`` commits or nothing does. With ``wait_seconds``, waiting for other
    writers (SQLite's write lock, PostgreSQL's row locks) is bounded by it in total, queued
    behind them meanwhile; past it :class:`StorageBusy` is raised and nothing is stored.
    """
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    for attempt in range(1, attempts + 1):
        try:
            if deadline is None:
                with engine.begin() as conn:
                    return work(conn)
            return _with_bounded_wait(engine, work, max(deadline - time.monotonic(), 0.001))
        except _QueueTimeout:
            raise StorageBusy(wait_seconds) from None
        except DBAPIError as exc:
            if deadline is not None and _is_lock_wait_timeout(exc):
                raise StorageBusy(wait_seconds) from exc
            if attempt == attempts or not _is_retryable(exc):
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


# SQLite admits one writer at a time. Writers of this process (the web app's threads) queue on a
# lock per database file, which hands over the moment the writer before them commits; left to
# SQLite's busy handler they would sleep and retry (up to 100 ms between retries), losing about
# 50 ms at every hand-over: 8 concurrent uploads then took 16% longer than one after another.
# Writers in other processes (Dagster runs) still meet at SQLite's lock.
# Re-entrant: an upload takes its turn before it parses (writer_turn), and its transaction
# takes the same turn again.
_SQLITE_WRITERS: dict[str, threading.RLock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


def _sqlite_writers(engine: Engine) -> threading.RLock:
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(str(Path(engine.url.database or "").resolve()), threading.RLock())


@contextmanager
def writer_turn(engine: Engine, wait_seconds: float) -> Iterator[float]:
    """Wait for this process's earlier SQLite writers before preparing a write (parsing a file),
    for at most ``wait_seconds`` (then :class:`StorageBusy`); yields what is left of the wait,
    for the transaction's own wait on other processes.

    SQLite runs in this process: uploads preparing side by side share the cores and the lock on
    Python objects with the one writing, so all of them finish late. Taking turns, 8 uploads at
    once answered the first after one upload's time (not 2.2 times it) and the others one upload
    apart; the last still finishes after the work of all 8 (bench/scale.py --only concurrent).
    On PostgreSQL uploads of different semesters run side by side: nothing to wait for here.
    """
    if is_postgres(engine):
        yield wait_seconds
        return
    started = time.monotonic()
    writers = _sqlite_writers(engine)
    if not writers.acquire(timeout=wait_seconds):
        raise StorageBusy(wait_seconds)
    try:
        yield max(wait_seconds - (time.monotonic() - started), 0.001)
    finally:
        writers.release()


def _with_bounded_wait(engine: Engine, work: Callable[[Connection], T], seconds: float) -> T:
    if is_postgres(engine):
        return _with_bounded_wait_inline(engine, work, seconds)
    started = time.monotonic()
    writers = _sqlite_writers(engine)
    if not writers.acquire(timeout=seconds):
        raise _QueueTimeout
    try:
        return _with_bounded_wait_inline(engine, work, max(seconds - (time.monotonic() - started), 0.001))
    finally:
        writers.release()


class _QueueTimeout(Exception):
    """The wait ran out in this process's queue of SQLite writers."""


def _with_bounded_wait_inline(engine: Engine, work: Callable[[Connection], T], seconds: float) -> T:
    milliseconds = max(int(seconds * 1000), 1)
    with engine.connect() as conn:
        if is_postgres(conn):
            with conn.begin():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
                return work(conn)
        # SQLite waits for the write lock in BEGIN IMMEDIATE: set the wait before it begins.
        driver = conn.connection.dbapi_connection
        driver.execute(f"PRAGMA busy_timeout={milliseconds}")
        try:
            with conn.begin():
                return work(conn)
        finally:
            driver.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
