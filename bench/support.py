"""What the benchmarks share: the machine's load, a scratch database, and a timer."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa

from gradewatch.storage import make_engine
from gradewatch.storage.migrate import upgrade

T = TypeVar("T")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


@contextmanager
def scratch_database(database_url: str | None, admin_url: str) -> Iterator[str]:
    if database_url:
        upgrade(database_url)
        yield database_url
        return
    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(make_engine(admin_url).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_engine(admin_url).url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        from gradewatch_assets import resources

        for engine in resources._engines.values():  # the resource's cached pools
            engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started
