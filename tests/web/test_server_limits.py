"""Through the real server (waitress in its own process), issue 13: body limits answered in JSON
before the body is read, the smaller limit of the anonymous prediction endpoints, responses
that never spill to disk for a slow client, and a stray quote refused, on both backends."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from gradewatch.storage import make_engine
from gradewatch.storage.tables import student_reports
from gradewatch.storage.tokens import create_token
from tests.support.csvdata import HEADER, PERIOD, student_rows, to_csv
from tests.support.server import running_server

pytestmark = pytest.mark.slow
LIMITS = {"GRADEWATCH_MAX_UPLOAD_MB": "2", "GRADEWATCH_MAX_PREDICT_MB": "1"}


def raw_exchange(base: str, head: bytes, body: bytes = b"", *, receive_buffer: int | None = None,
                 pause_every: int = 0) -> bytes:
    """Send a request as bytes and read the whole answer (slowly when ``pause_every`` is set)."""
    address = urlsplit(base)
    with socket.socket() as sock:
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect((address.hostname, address.port))
        sock.sendall(head + body)
        chunks: list[bytes] = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
            if pause_every and len(chunks) % pause_every == 0:
                time.sleep(0.01)  # a client on a slow line: the server must wait, not spool
        return b"".join(chunks)


def split_answer(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def announced_only(path: str, length: int, token: str | None = None) -> bytes:
    """The head of a request that announces ``length`` bytes and never sends them."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: text/csv\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


def test_bodies_over_the_limits_get_the_json_413_before_they_are_read(database_url: str, tmp_path) -> None:
    engine = make_engine(database_url)
    token = create_token(engine, "limits", frozenset({"upload"}))
    engine.dispose()
    with running_server(database_url, tmp_path, extra_env=LIMITS) as base:
        # Announced but never sent: only a server that refuses on the header can answer.
        upload_answer = raw_exchange(base, announced_only("/update-csv", 50_000_000, token))
        predict_answer = raw_exchange(base, announced_only("/predict", 50_000_000))
        # Sent in full, between the prediction limit and the upload limit.
        middle = requests.post(f"{base}/predict", data=b"x" * 1_500_000, timeout=60,
                               headers={"Content-Type": "text/csv"})
        page = requests.post(f"{base}/predict-csv", data=b"x" * 1_500_000, timeout=60,
                             headers={"Content-Type": "text/csv"})
    status, headers, body = split_answer(upload_answer)
    assert (status, headers["content-type"]) == (413, "application/json")
    assert "2 MB limit (GRADEWATCH_MAX_UPLOAD_MB)" in json.loads(body)["error"]
    status, headers, body = split_answer(predict_answer)
    assert (status, headers["content-type"]) == (413, "application/json")
    assert "1 MB limit for predictions (GRADEWATCH_MAX_PREDICT_MB)" in json.loads(body)["error"]
    assert (middle.status_code, middle.headers["Content-Type"]) == (413, "application/json")
    assert "GRADEWATCH_MAX_PREDICT_MB" in middle.json()["error"]
    assert page.status_code == 413


def test_a_malformed_request_gets_a_json_error(database_url: str, tmp_path) -> None:
    with running_server(database_url, tmp_path) as base:
        answer = raw_exchange(base, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n")
    status, headers, body = split_answer(answer)
    assert (status, headers["content-type"]) == (400, "application/json")
    assert json.loads(body)["error"]


def test_a_large_response_to_a_slow_client_is_never_written_to_disk(database_url: str, tmp_path) -> None:
    engine = make_engine(database_url)
    token = create_token(engine, "slow", frozenset({"upload"}))
    engine.dispose()
    # Every row has an error: the JSON answer lists 30,000 of them, about 3 MB.
    rows = [{**r, "attendance_rate": "lots"} for r in student_rows(30_000)]
    prepared = requests.Request("POST", "http://localhost/update-csv", data=PERIOD,
                                files={"file": ("s.csv", to_csv(rows, HEADER), "text/csv")},
                                headers={"Authorization": f"Bearer {token}", "Connection": "close"}).prepare()
    head = "POST /update-csv HTTP/1.1\r\nHost: localhost\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in prepared.headers.items()) + "\r\n"
    audit_log = tmp_path / "tempfiles.log"
    audit_log.touch()
    env = {"GRADEWATCH_TEST_TEMPFILE_LOG": str(audit_log)}
    with running_server(database_url, tmp_path, extra_env=env, audit_tempfiles=True) as base:
        before = audit_log.read_text()
        answer = raw_exchange(base, head.encode(), prepared.body, receive_buffer=8192, pause_every=16)
        during = audit_log.read_text()[len(before):]
    status, _, body = split_answer(answer)
    assert status == 200
    assert len(body) > 2_000_000  # well above waitress's default 1 MB before it spools to disk
    assert len(json.loads(body)["errors"]) == 30_000
    assert during == ""


def test_a_stray_quote_through_the_real_upload_stores_nothing(database_url: str, tmp_path) -> None:
    engine = make_engine(database_url)
    token = create_token(engine, "quote", frozenset({"upload"}))
    content = (",".join(HEADER) + "\n" + '"S1,F,90,10,80,1,High\nS2,M,80,5,70,0,Low\nS3,F,85,8,75,2,Medium\n').encode()
    with running_server(database_url, tmp_path) as base:
        answer = requests.post(f"{base}/update-csv", headers={"Authorization": f"Bearer {token}"},
                               data=PERIOD, files={"file": ("s.csv", content, "text/csv")}, timeout=60)
    assert answer.status_code == 400, answer.text
    assert "never closed" in answer.json()["error"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(student_reports)).scalar_one() == 0
    engine.dispose()
