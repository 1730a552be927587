"""Shared fixtures: every storage test runs on SQLite and on a real PostgreSQL.

PostgreSQL is reached at ``GRADEWATCH_TEST_POSTGRES_URL`` (default: the local server with
trust auth). Each test session (and each xdist worker) gets its own scratch database, migrated
once with the real Alembic migrations; each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.monitoring.alerts import reset_alerts
from gradewatch.settings import Settings, load_settings
from gradewatch.storage import make_engine
from gradewatch.storage.migrate import upgrade
from tests.support.databases import POSTGRES_ADMIN_URL, empty_postgres

BACKENDS = ("sqlite", "postgresql")


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(autouse=True)
def alerts_unconfigured() -> Iterator[None]:
    """Every test starts and ends with alerts unconfigured (log records only).

    ``configure_alerts`` is process-wide, and its de-duplication window remembers what it sent:
    left configured by one test, it swallowed another's identical alert (the same model
    versions, the same message) and ``test_corrupt_champion_falls_back...`` saw no alert.
    """
    reset_alerts()
    yield
    reset_alerts()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A freshly created, migrated PostgreSQL database for this test session."""
    name = f"gw_test_{_worker_suffix()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is required for the tests and is not reachable: {exc}")
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once per session."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated application database; once per backend."""
    if request.param == "sqlite":
        target = tmp_path / "gradewatch.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database and Dagster home, nothing from the environment."""
    return load_settings(
        {"GRADEWATCH_DATABASE_URL": database_url, "DAGSTER_HOME": str(tmp_path / "dagster_home")},
        base_dir=tmp_path,
    )


@pytest.fixture
def app(settings: Settings, engine: Engine):
    from webapp import create_app

    application = create_app(settings, engine=engine)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def upload_token(engine: Engine) -> str:
    """A bearer token with the upload and report scopes."""
    from gradewatch.storage.tokens import create_token

    return create_token(engine, "registrar", frozenset({"upload", "report"}))


@pytest.fixture
def report_token(engine: Engine) -> str:
    from gradewatch.storage.tokens import create_token

    return create_token(engine, "teacher", frozenset({"report"}))


@pytest.fixture
def instance():
    """A real, temporary Dagster instance (SQLite storage in a temporary folder)."""
    import dagster as dg

    with dg.instance_for_test() as dagster_instance:
        yield dagster_instance


@pytest.fixture
def resources(database_url: str) -> dict:
    """The Dagster resources, pointed at this test's application database."""
    from gradewatch_assets.resources import GradewatchResource

    return {"gradewatch": GradewatchResource(database_url=database_url)}
