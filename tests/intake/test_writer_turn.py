"""Uploads of one process take turns on SQLite, parsing included (``db.writer_turn``).

On SQLite the database runs in this process: uploads preparing side by side share the cores
with the one writing and all finish late, so an upload waits for this process's earlier writers
before it reads its file. On PostgreSQL uploads of other semesters run side by side, so it
reads the file at once.
"""

from __future__ import annotations

import pytest

from gradewatch.intake.ingest import UploadRejected, ingest_csv
from gradewatch.storage.db import StorageBusy, utcnow
from gradewatch.storage.reports import upsert_reports
from tests.support.databases import writer_inside_its_transaction
from tests.support.semesters import S1, S2, semester_frame

NOT_A_REPORT = b"student,grade\nx1,12\n"  # refused at its header, before anything is stored


def test_an_upload_reads_its_file_in_its_turn_on_sqlite_at_once_on_postgresql(engine) -> None:
    frame = semester_frame(S1, 10).drop(columns=["final_grade"])
    with writer_inside_its_transaction(engine, lambda conn: upsert_reports(conn, S1, frame, utcnow())) as first:
        if engine.dialect.name == "sqlite":
            with pytest.raises(StorageBusy, match=r"after 0\.5 s of waiting"):
                ingest_csv(engine, NOT_A_REPORT, S2, source="api", wait_seconds=0.5)
        else:
            with pytest.raises(UploadRejected, match="None of the columns is one GradeWatch knows"):
                ingest_csv(engine, NOT_A_REPORT, S2, source="api", wait_seconds=0.5)
    assert first.result(timeout=60).inserted == 10
    with pytest.raises(UploadRejected, match="None of the columns is one GradeWatch knows"):  # its turn came
        ingest_csv(engine, NOT_A_REPORT, S2, source="api", wait_seconds=0.5)
