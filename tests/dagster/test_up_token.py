"""``gradewatch up`` (issue 13, item 14): the database password is never printed, and the token
it prints is revoked when it stops. Run against PostgreSQL, whose URL carries a password."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from gradewatch.storage import make_engine
from gradewatch.storage.tables import api_tokens
from tests.support.databases import empty_postgres
from tests.support.platform import kill_session, start_up

pytestmark = pytest.mark.slow
PASSWORD = "not-shown-9f3k"  # the local server trusts any password


def test_up_masks_the_password_and_revokes_its_token(postgres_url: str, tmp_path: Path) -> None:
    empty_postgres(postgres_url)
    url = sa.make_url(postgres_url).set(password=PASSWORD).render_as_string(hide_password=False)
    process, port, _dagster_port, log = start_up(tmp_path, url)
    base = f"http://127.0.0.1:{port}"
    report = f"{base}/get-report?start_date_period=2026-01-12&end_date_period=2026-06-30"
    try:
        deadline = time.monotonic() + 180
        while "revoked when GradeWatch stops" not in log.read_text() or not _answers(f"{base}/health"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        text = log.read_text()
        token = text.split("revoked when GradeWatch stops:", 1)[1].split()[0]
        assert requests.get(report, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 404
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=90) == 0
    finally:
        kill_session(process.pid)
    text = log.read_text()
    assert PASSWORD not in text
    assert "***@" in text
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        states = conn.execute(sa.select(api_tokens.c.name, api_tokens.c.revoked_at)).all()
    engine.dispose()
    assert [name for name, _ in states if name.startswith("up-")] and all(revoked for _, revoked in states)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
