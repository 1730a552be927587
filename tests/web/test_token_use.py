"""Tokens (issue 13, item 14) through the API, on both backends: an expired token is refused
with a clear 401; last_used_at is written only once the scope check passed, and at most once a
minute; on SQLite, checking a token does not wait for the write lock."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta

import sqlalchemy as sa

from gradewatch.settings import load_settings
from gradewatch.storage import make_engine
from gradewatch.storage.db import utcnow
from gradewatch.storage.tables import api_tokens
from gradewatch.storage.tokens import create_token
from tests.support.csvdata import student_rows, to_csv, upload


def last_used(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(sa.select(api_tokens.c.last_used_at).where(api_tokens.c.name == name)).scalar_one()


def set_column(engine, name: str, **values) -> None:
    with engine.begin() as conn:
        conn.execute(api_tokens.update().where(api_tokens.c.name == name).values(**values))


def test_an_expired_token_gets_a_clear_401(client, engine) -> None:
    token = create_token(engine, "term", frozenset({"upload"}), expires_in=timedelta(days=90))
    assert upload(client, token, to_csv(student_rows(2))).status_code == 200
    set_column(engine, "term", expires_at=utcnow() - timedelta(minutes=1))
    answer = upload(client, token, to_csv(student_rows(2)))
    assert answer.status_code == 401
    assert "This token expired on" in answer.json["error"]


def test_last_used_is_written_after_the_scope_check_and_once_a_minute(client, engine) -> None:
    token = create_token(engine, "teacher", frozenset({"report"}))
    refused = upload(client, token, to_csv(student_rows(2)))
    assert refused.status_code == 403
    assert last_used(engine, "teacher") is None  # a refused request does not count as a use
    report = "/get-report?start_date_period=2026-01-12&end_date_period=2026-06-30"
    assert client.get(report, headers={"Authorization": f"Bearer {token}"}).status_code == 404
    first = last_used(engine, "teacher")
    assert first is not None
    client.get(report, headers={"Authorization": f"Bearer {token}"})
    assert last_used(engine, "teacher") == first  # within the minute: not written again
    set_column(engine, "teacher", last_used_at=utcnow() - timedelta(minutes=2))
    client.get(report, headers={"Authorization": f"Bearer {token}"})
    assert last_used(engine, "teacher") > first


def test_on_sqlite_a_token_check_does_not_wait_for_the_write_lock(sqlite_template, tmp_path) -> None:
    from webapp import create_app

    path = tmp_path / "g.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    token = create_token(engine, "teacher", frozenset({"report"}))
    app = create_app(load_settings({"GRADEWATCH_DATABASE_URL": url, "DAGSTER_HOME": str(tmp_path / "d")},
                                   base_dir=tmp_path), engine=engine)
    client = app.test_client()
    report = "/get-report?start_date_period=2026-01-12&end_date_period=2026-06-30"
    assert client.get(report, headers={"Authorization": f"Bearer {token}"}).status_code == 404
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # an upload holding the write lock
    try:
        # The check only reads: it answers now, instead of waiting out the 30 s busy timeout
        # and failing with 'database is locked'.
        answer = upload(client, token, to_csv(student_rows(2)))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert answer.status_code == 403, answer.json
    engine.dispose()
