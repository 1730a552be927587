"""Apply the Alembic migrations programmatically (``gradewatch db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import gradewatch
from gradewatch.storage.db import is_postgres, make_engine, normalise_url


def migrations_dir() -> Path:
    """The migrations folder: packaged inside the wheel, or beside the package in a checkout."""
    package_dir = Path(gradewatch.__file__).resolve().parent
    for candidate in (package_dir / "migrations", package_dir.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("the Alembic migrations folder is missing from this installation")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


# Every re-upload merges with MERGE (``pg_merge``), which PostgreSQL has from version 15.
MINIMUM_POSTGRES_VERSION = 15


class UnsupportedDatabase(RuntimeError):
    """The database server is too old for GradeWatch; the message says what to do."""


def require_postgres_version(server_version_num: int) -> None:
    """Refuse a PostgreSQL older than :data:`MINIMUM_POSTGRES_VERSION` (``server_version_num``)."""
    major = server_version_num // 10_000
    if major < MINIMUM_POSTGRES_VERSION:
        raise UnsupportedDatabase(
            f"GradeWatch needs PostgreSQL {MINIMUM_POSTGRES_VERSION} or later (re-uploads are merged "
            f"with MERGE); this server is PostgreSQL {major}. Upgrade the server (docker-compose.yml "
            "runs PostgreSQL 16), then run 'gradewatch db upgrade' again. Nothing was changed.")


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``; UnsupportedDatabase for a server too old, untouched."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if is_postgres(conn):
                require_postgres_version(int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()))
    finally:
        engine.dispose()
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
