"""An inbox file is stored once even when two attempts at it overlap (a retried sensor, a re-run):
the duplicate check runs inside the ingest transaction, under the semester's lock. PostgreSQL
only: SQLite runs one write transaction at a time, so attempts never overlap there."""

from __future__ import annotations

import hashlib
import threading

import pytest
import sqlalchemy as sa

from gradewatch.intake.ingest import AlreadyIngested, ingest_csv
from gradewatch.storage.db import utcnow
from gradewatch.storage.semesters import lock_semester
from gradewatch.storage.tables import uploads
from gradewatch.storage.uploads import record_upload
from tests.support.databases import fresh_postgres_engine, until_blocked_or_done
from tests.support.semesters import S1, S2, semester_frame

COUNTS = {"received": 20, "inserted": 20, "updated": 0, "unchanged": 0, "rejected": 0}


@pytest.fixture
def postgres_engine(postgres_url):
    with fresh_postgres_engine(postgres_url) as eng:
        yield eng


def test_a_second_attempt_waits_for_the_first_and_stores_nothing(postgres_engine) -> None:
    engine = postgres_engine
    raw = semester_frame(S1, 20).to_csv(index=False).encode()
    outcome: list[object] = []
    done = threading.Event()

    def second_attempt() -> None:
        try:
            outcome.append(ingest_csv(engine, raw, S1, source="inbox", once=True))
        except AlreadyIngested as exc:
            outcome.append(exc)
        done.set()

    with engine.begin() as conn:  # the first attempt, between its check and its commit
        lock_semester(conn, S1, utcnow())
        record_upload(conn, period=S1, source="inbox", token_name=None, mode="reports",
                      content_sha256=hashlib.sha256(raw).hexdigest(), counts=COUNTS, dropped_columns=[],
                      now=utcnow())
        thread = threading.Thread(target=second_attempt)
        thread.start()
        until_blocked_or_done(engine, done)
    thread.join()
    assert isinstance(outcome[0], AlreadyIngested)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(uploads)).scalar_one() == 1
    # The same bytes for another semester are another upload.
    assert ingest_csv(engine, raw, S2, source="inbox", once=True).inserted == 20
