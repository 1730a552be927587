"""The gradewatch command line, run as a real subprocess (console script) against both backends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from gradewatch.storage import make_engine
from gradewatch.storage.tables import api_tokens
from gradewatch.storage.tokens import authenticate
from tests.support.databases import head_revision


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "gradewatch", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_db_upgrade_on_a_fresh_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'g.db'}"
    result = run_cli("db", "upgrade", url=url)
    assert result.returncode == 0, result.stderr
    assert f"revision {head_revision()}" in result.stdout
    with make_engine(url).connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) >= {"student_reports", "uploads", "api_tokens"}


def test_token_lifecycle(database_url: str) -> None:
    created = run_cli("token", "create", "--name", "registrar", "--scope", "upload", url=database_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    engine = make_engine(database_url)
    info = authenticate(engine, token)
    assert info is not None and info.scopes == {"upload"}
    with engine.connect() as conn:
        assert token not in str(conn.execute(sa.select(api_tokens)).all())
    listed = run_cli("token", "list", url=database_url)
    assert "registrar\tupload\tactive" in listed.stdout and token not in listed.stdout
    assert run_cli("token", "revoke", "registrar", url=database_url).returncode == 0
    assert authenticate(engine, token) is None
    engine.dispose()


@pytest.mark.parametrize(("args", "fragment"), [
    (("token", "create", "--name", "x", "--scope", "admin"), "unknown: admin"),
    (("token", "revoke", "nobody"), "no active token named 'nobody'"),
])
def test_bad_token_commands_explain_themselves(database_url: str, args, fragment: str) -> None:
    result = run_cli(*args, url=database_url)
    assert result.returncode == 1
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_token_name_is_refused(database_url: str) -> None:
    assert run_cli("token", "create", "--name", "a", url=database_url).returncode == 0
    again = run_cli("token", "create", "--name", "a", url=database_url)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_unreachable_database_is_one_clear_line() -> None:
    result = run_cli("token", "list", url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_unmigrated_database_says_what_to_run(tmp_path) -> None:
    result = run_cli("token", "list", url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 2
    assert "gradewatch db upgrade" in result.stderr


def test_bad_setting_is_reported(tmp_path) -> None:
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "GRADEWATCH_PASS_MARK": "sixty"}
    result = subprocess.run([sys.executable, "-m", "gradewatch", "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "GRADEWATCH_PASS_MARK must be a number" in result.stderr
