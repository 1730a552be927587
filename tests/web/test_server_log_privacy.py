"""A database error in the middle of an upload, through the real server (issue 13, item 11):
no row value reaches any log record, on the console or in the Logstash stream, on both backends."""

from __future__ import annotations

import json

import pytest
import requests
import sqlalchemy as sa

from gradewatch.storage import make_engine
from gradewatch.storage.tables import student_reports
from gradewatch.storage.tokens import create_token
from tests.support.csvdata import PERIOD, student_rows, to_csv
from tests.support.logstash import TcpCollector
from tests.support.server import running_server

pytestmark = pytest.mark.slow
PREFIX = "zq9x"  # ids no log line would hold by chance
TRIGGER_VALUE = 42.4242  # the attendance the database refuses
MARKED_GRADE = 17.1717

FAIL_ON_VALUE = {
    "sqlite": [f"""CREATE TRIGGER forced_failure BEFORE INSERT ON student_reports
                   WHEN NEW.attendance_rate = {TRIGGER_VALUE}
                   BEGIN SELECT RAISE(ABORT, 'forced failure'); END"""],
    "postgresql": ["""CREATE FUNCTION forced_failure() RETURNS trigger AS $$
                      BEGIN RAISE EXCEPTION 'forced failure'; END $$ LANGUAGE plpgsql""",
                   f"""CREATE TRIGGER forced_failure BEFORE INSERT ON student_reports FOR EACH ROW
                       WHEN (NEW.attendance_rate = {TRIGGER_VALUE}) EXECUTE FUNCTION forced_failure()"""],
}
CLEAN_UP = {"sqlite": ["DROP TRIGGER forced_failure"],
            "postgresql": ["DROP TRIGGER forced_failure ON student_reports", "DROP FUNCTION forced_failure()"]}


def test_a_database_error_mid_upload_logs_no_row_value(database_url: str, tmp_path) -> None:
    engine = make_engine(database_url)
    backend = engine.dialect.name
    token = create_token(engine, "failing", frozenset({"upload"}))
    rows = student_rows(200, prefix=PREFIX)
    rows[150]["attendance_rate"] = TRIGGER_VALUE  # the database fails on row 152 of the file
    for row in rows[:150]:
        row["previous_grade"] = MARKED_GRADE  # a value no log line would hold by chance either
    with engine.begin() as conn:
        for statement in FAIL_ON_VALUE[backend]:
            conn.exec_driver_sql(statement)
    collector = TcpCollector()
    env = {"LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": str(collector.port), "GRADEWATCH_LOG_LEVEL": "DEBUG"}
    try:
        with running_server(database_url, tmp_path, extra_env=env) as base:
            answer = requests.post(f"{base}/update-csv", headers={"Authorization": f"Bearer {token}"},
                                   data=PERIOD, files={"file": ("s.csv", to_csv(rows), "text/csv")}, timeout=60)
            shipped = collector.wait_for(lambda r: "unhandled error" in json.dumps(r))
    finally:
        collector.close()
        with engine.begin() as conn:
            for statement in CLEAN_UP[backend]:
                conn.exec_driver_sql(statement)
    assert answer.status_code == 500
    assert "nothing was changed" in answer.json()["error"]
    with engine.connect() as conn:  # the failed upload stored nothing
        assert conn.execute(sa.select(sa.func.count()).select_from(student_reports)).scalar_one() == 0
    engine.dispose()
    console = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("server-*.log"))
    stream = "\n".join(collector.raw)
    assert "unhandled error on POST /update-csv" in console and shipped
    assert "unhandled error on POST /update-csv" in stream
    for text in (console, stream):
        assert PREFIX not in text
        assert str(TRIGGER_VALUE) not in text
        assert str(MARKED_GRADE) not in text
