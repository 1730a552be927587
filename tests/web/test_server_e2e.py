"""Through a real server (waitress in its own process): concurrency and no temporary files."""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from gradewatch.storage import make_engine
from gradewatch.storage.tables import student_reports
from gradewatch.storage.tokens import create_token
from tests.support.csvdata import PERIOD, student_rows, to_csv
from tests.support.server import running_server

pytestmark = pytest.mark.slow
UPLOADERS = 8
VALUE_COLUMNS = ["attendance_rate", "study_hours_per_week", "previous_grade"]


def _post(base: str, token: str, content: bytes) -> requests.Response:
    return requests.post(f"{base}/update-csv", headers={"Authorization": f"Bearer {token}"},
                         data=PERIOD, files={"file": ("s.csv", content, "text/csv")}, timeout=120)


def test_concurrent_uploads_to_one_semester_queue_without_503(database_url: str, tmp_path) -> None:
    """Eight uploads at once, on both backends: each waits for the ones before it (well within
    GRADEWATCH_UPLOAD_WAIT_SECONDS) and none is refused."""
    engine = make_engine(database_url)
    token = create_token(engine, "concurrent", frozenset({"upload"}))
    population = student_rows(3000, seed=7)
    rng = random.Random(3)
    submissions: dict[int, dict[str, dict]] = {}
    for writer in range(UPLOADERS):
        chosen = rng.sample(population, 1500)  # heavy overlap between the 8 writers
        rows = [{**r, **{c: round(rng.uniform(0, 100), 1) for c in VALUE_COLUMNS}} for r in chosen]
        submissions[writer] = {r["user_id"]: r for r in rows}
    env = {"GRADEWATCH_UPLOAD_WAIT_SECONDS": "60"}
    with running_server(database_url, tmp_path, extra_env=env) as base, ThreadPoolExecutor(UPLOADERS) as pool:
        answers = list(pool.map(
            lambda w: _post(base, token, to_csv(list(submissions[w].values()))), range(UPLOADERS)))
    assert [a.status_code for a in answers] == [200] * UPLOADERS, [a.text for a in answers]
    with engine.connect() as conn:
        stored = pd.DataFrame(conn.execute(sa.select(student_reports)).mappings().all()).set_index("user_id")
    engine.dispose()
    touched = set().union(*[set(s) for s in submissions.values()])
    assert set(stored.index) == touched
    # Every student holds exactly one writer's full row, never a mix of two writers' cells ...
    winner: dict[str, int] = {}
    for user_id in touched:
        got = tuple(stored.loc[user_id, VALUE_COLUMNS])
        writers = [w for w, s in submissions.items()
                   if user_id in s and tuple(s[user_id][c] for c in VALUE_COLUMNS) == got]
        assert len(writers) == 1, f"{user_id} holds no single writer's row"
        winner[user_id] = writers[0]
    # ... and uploads are serialised: for two writers, the one that wrote last won everywhere they overlap.
    for a, b in itertools.combinations(range(UPLOADERS), 2):
        shared = set(submissions[a]) & set(submissions[b])
        winners = {winner[u] for u in shared} & {a, b}
        assert len(winners) <= 1, f"writers {a} and {b} interleaved"


def test_upload_through_waitress_writes_no_temporary_file(database_url: str, tmp_path) -> None:
    engine = make_engine(database_url)
    token = create_token(engine, "disk", frozenset({"upload"}))
    audit_log = tmp_path / "tempfiles.log"
    audit_log.touch()
    content = to_csv(student_rows(30_000))
    assert len(content) > 1_000_000  # above waitress's default 1 MB in-memory buffer
    env = {"GRADEWATCH_TEST_TEMPFILE_LOG": str(audit_log)}
    with running_server(database_url, tmp_path, extra_env=env, audit_tempfiles=True) as base:
        before = audit_log.read_text()
        answer = _post(base, token, content)
        during = audit_log.read_text()[len(before):]
    assert answer.status_code == 200, answer.text
    assert answer.json()["inserted"] == 30_000
    assert during == ""
    engine.dispose()
