"""POST /update-csv and its guarantees, on SQLite and PostgreSQL (via the engine fixture)."""

from __future__ import annotations

import io
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from gradewatch.storage.tables import metadata, student_reports, uploads
from gradewatch.storage.tokens import create_token, revoke_token
from tests.support.csvdata import HEADER, PERIOD, PII, student_rows, to_csv, upload


def count(engine, table=student_reports) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def all_text_values(engine) -> list[str]:
    values: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                values.extend(str(v) for v in row if v is not None)
    return values


def test_pii_columns_are_dropped_and_never_stored(client, engine, upload_token) -> None:
    rows = [{**r, **{k: f"{v} {i}" for k, v in PII.items()}} for i, r in enumerate(student_rows(20))]
    response = upload(client, upload_token, to_csv(rows))
    assert response.status_code == 200, response.json
    assert set(PII) <= set(response.json["dropped_columns"])
    assert response.json["inserted"] == 20
    stored = "\n".join(all_text_values(engine))
    for i in range(20):
        for value in PII.values():
            assert f"{value} {i}" not in stored
    for fragment in ("Quintanilla", "example.org", "555 01 23", "Lilas", "2009-04-17"):
        assert fragment not in stored


def test_same_upload_twice_is_idempotent(client, engine, upload_token) -> None:
    content = to_csv(student_rows(50))
    first = upload(client, upload_token, content).json
    second = upload(client, upload_token, content).json
    assert (first["inserted"], second["inserted"], second["updated"], second["unchanged"]) == (50, 0, 0, 50)
    assert count(engine) == 50


def test_changed_rows_are_updated_not_duplicated(client, engine, upload_token) -> None:
    rows = student_rows(10)
    upload(client, upload_token, to_csv(rows))
    rows[3]["attendance_rate"] = 12.5
    answer = upload(client, upload_token, to_csv(rows)).json
    assert (answer["inserted"], answer["updated"], answer["unchanged"]) == (0, 1, 9)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(student_reports.c.attendance_rate).where(
            student_reports.c.user_id == rows[3]["user_id"])).scalar_one()
    assert stored == 12.5


@pytest.mark.parametrize("case", ["no token", "wrong token", "revoked token", "not bearer"])
def test_unauthenticated_uploads_get_401_and_store_nothing(client, engine, case: str) -> None:
    token = create_token(engine, "gone", frozenset({"upload"}))
    headers = {
        "no token": {},
        "wrong token": {"Authorization": "Bearer gw_not-a-real-token"},
        "revoked token": {"Authorization": f"Bearer {token}"},
        "not bearer": {"Authorization": f"Basic {token}"},
    }[case]
    if case == "revoked token":
        revoke_token(engine, "gone")
    data = {**PERIOD, "file": (io.BytesIO(to_csv(student_rows(3))), "a.csv")}
    response = client.post("/update-csv", data=data, headers=headers)
    assert response.status_code == 401
    assert "error" in response.json
    assert count(engine) == 0
    assert count(engine, uploads) == 0


def test_report_scope_cannot_upload(client, engine, report_token) -> None:
    response = upload(client, report_token, to_csv(student_rows(3)))
    assert response.status_code == 403
    assert "upload" in response.json["error"]
    assert count(engine) == 0
    assert count(engine, uploads) == 0


def test_partial_failure_keeps_the_good_rows(client, engine, upload_token) -> None:
    rows = student_rows(1000)
    rows[10]["attendance_rate"] = "absent"
    rows[500]["previous_grade"] = "B+"
    rows[998]["extracurricular_activities_count"] = "two"
    response = upload(client, upload_token, to_csv(rows))
    assert response.status_code == 200
    body = response.json
    assert (body["inserted"], body["rejected"]) == (997, 3)
    assert [(e["row"], e["column"]) for e in body["errors"]] == [
        (12, "attendance_rate"), (502, "previous_grade"), (1000, "extracurricular_activities_count")]
    assert all("not a number" in e["message"] for e in body["errors"])
    assert count(engine) == 997
    with engine.connect() as conn:
        audit = conn.execute(sa.select(uploads)).one()
    assert (audit.rows_received, audit.rows_inserted, audit.rows_rejected, audit.token_name) == (
        1000, 997, 3, "registrar")


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(("content", "period", "fragment"), [
    (to_csv(student_rows(5), header=[h for h in HEADER if h != "previous_grade"]), None,
     "missing the required column(s) previous_grade"),
    (b"", None, "empty"),
    (",".join(HEADER).encode() + b"\r\n", None, "no data rows"),
    (PNG, None, "PNG"),
    ("user_id,gender\n1,テストテストテスト\n".encode("shift_jis"), None, "does not read"),
    (to_csv(student_rows(5)), {"start_date_period": "2026-06-30", "end_date_period": "2026-01-12"},
     "swapped"),
    (to_csv(student_rows(5)), {"start_date_period": "12/01/2026", "end_date_period": "2026-06-30"},
     "YYYY-MM-DD"),
    (to_csv(student_rows(5)), {"start_date_period": "2026-02-30", "end_date_period": "2026-06-30"},
     "YYYY-MM-DD"),
    (to_csv(student_rows(5)), {"end_date_period": "2026-06-30"}, "start_date_period is missing"),
    (to_csv(student_rows(5)), {"start_date_period": "2026-01-12"}, "end_date_period is missing"),
])
def test_bad_files_get_400_naming_the_problem(
    client, engine, upload_token, content, period, fragment
) -> None:
    response = upload(client, upload_token, content, period)
    assert response.status_code == 400
    assert fragment in response.json["error"]
    assert count(engine) == 0
    assert count(engine, uploads) == 0


def test_missing_file_field_gets_400(client, engine, upload_token) -> None:
    response = client.post("/update-csv", data=PERIOD, headers={"Authorization": f"Bearer {upload_token}"})
    assert response.status_code == 400
    assert "'file'" in response.json["error"]


def test_too_large_upload_gets_413_json(settings, engine, upload_token) -> None:
    from webapp import create_app

    small = create_app(settings.with_overrides(max_upload_mb=0.01), engine=engine)
    response = upload(small.test_client(), upload_token, to_csv(student_rows(400)))
    assert response.status_code == 413
    assert "limit" in response.json["error"]
    assert count(engine) == 0


def test_final_grades_update_existing_rows(client, engine, upload_token) -> None:
    rows = student_rows(5)
    upload(client, upload_token, to_csv(rows))
    grades = [{"StudentID": r["user_id"], "FinalGrade": 50 + i} for i, r in enumerate(rows[:3])]
    grades.append({"StudentID": "nobody-here", "FinalGrade": 77})
    response = upload(client, upload_token, to_csv(grades))
    body = response.json
    assert response.status_code == 200
    assert (body["mode"], body["updated"], body["inserted"], body["rejected"]) == ("final_grades", 3, 0, 1)
    assert body["errors"] == [{"row": 5, "column": "user_id", "message": body["errors"][0]["message"]}]
    assert "no student with this user_id" in body["errors"][0]["message"]
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(student_reports.c.user_id, student_reports.c.final_grade)).all())
    assert stored == {rows[0]["user_id"]: 50, rows[1]["user_id"]: 51, rows[2]["user_id"]: 52,
                      rows[3]["user_id"]: None, rows[4]["user_id"]: None}


def test_report_upload_without_grades_keeps_stored_grades(client, engine, upload_token) -> None:
    rows = student_rows(2)
    upload(client, upload_token, to_csv([{**r, "final_grade": 70} for r in rows]))
    upload(client, upload_token, to_csv(rows))
    with engine.connect() as conn:
        grades = conn.execute(sa.select(student_reports.c.final_grade)).scalars().all()
    assert grades == [70, 70]


def test_raw_upload_is_never_spooled_to_disk(client, upload_token, monkeypatch) -> None:
    opened: list[str] = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        original = getattr(tempfile, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            opened.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, spy)
    content = to_csv(student_rows(20_000))
    assert len(content) > 600_000  # over Werkzeug's 500 KB spooling threshold
    response = upload(client, upload_token, content)
    assert response.status_code == 200
    assert opened == []


@pytest.mark.parametrize("count", ["1e300", "3000000000", "-9999999999"])
def test_absurd_counts_are_row_errors_not_server_errors(client, engine, upload_token, count: str) -> None:
    rows = student_rows(3)
    rows[1]["extracurricular_activities_count"] = count
    response = upload(client, upload_token, to_csv(rows))
    assert response.status_code == 200, response.json
    assert response.json["inserted"] == 2
    (error,) = response.json["errors"]
    assert (error["row"], error["column"]) == (3, "extracurricular_activities_count")
    assert "plausible count" in error["message"]


@pytest.mark.parametrize("first_upload", [True, False])
def test_a_crash_after_the_rows_are_written_leaves_nothing_half_done(engine, monkeypatch, first_upload) -> None:
    """The audit row is the last write of the upload's transaction: failing there (a crash, a
    lost connection) must undo the rows already written, on the COPY path and the merge path."""
    from gradewatch.intake import ingest

    period = ingest.parse_period(PERIOD["start_date_period"], PERIOD["end_date_period"])
    rows = student_rows(50)
    if not first_upload:
        ingest.ingest_csv(engine, to_csv(rows), period, source="test")
    before = _snapshot(engine)

    def crash(*args, **kwargs):
        raise RuntimeError("the server went down")

    monkeypatch.setattr(ingest, "record_upload", crash)
    changed = [{**row, "attendance_rate": 1.0} for row in student_rows(80)]
    with pytest.raises(RuntimeError):
        ingest.ingest_csv(engine, to_csv(changed), period, source="test")
    assert _snapshot(engine) == before
    assert count(engine, uploads) == (0 if first_upload else 1)


def _snapshot(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.select(student_reports.c.user_id, student_reports.c.attendance_rate)
                            .order_by(student_reports.c.user_id)).all()


def test_an_empty_row_erases_nothing_and_the_answer_counts_the_cells_kept(client, engine, upload_token) -> None:
    header = ",".join(HEADER).encode() + b"\n"
    assert upload(client, upload_token, header + b"S9,F,90,10,80,1,High\n").status_code == 200
    with engine.connect() as conn:
        before = conn.execute(sa.select(student_reports).where(student_reports.c.user_id == "S9")).one()
    answer = upload(client, upload_token, header + b"S9,,,,,,\n")
    assert answer.status_code == 200, answer.json
    assert (answer.json["updated"], answer.json["unchanged"], answer.json["cells_kept"]) == (0, 1, 6)
    with engine.connect() as conn:
        after = conn.execute(sa.select(student_reports).where(student_reports.c.user_id == "S9")).one()
    assert after == before


# PostgreSQL only at this level: on SQLite the token check records last_used_at and so queues
# for the write lock itself before the upload does. tests/storage/test_reports_merge.py holds
# the bounded wait on both backends.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_upload_waiting_past_the_limit_gets_503_saying_to_retry(settings, engine, upload_token) -> None:
    from webapp import create_app

    client = create_app(settings.with_overrides(upload_wait_seconds=1), engine=engine).test_client()
    content = to_csv(student_rows(20))
    upload(client, upload_token, content)
    changed = to_csv([{**r, "previous_grade": 1.0} for r in student_rows(20)])
    with engine.connect() as holder, ThreadPoolExecutor(1) as pool:
        holder.begin()
        holder.execute(student_reports.update().values(previous_grade=2.0))  # another upload's rows
        pool.submit(lambda: time.sleep(5) or holder.rollback())  # the other upload ends later
        answer = upload(client, upload_token, changed)
    assert answer.status_code == 503, answer.json
    assert "send it again" in answer.json["error"] and answer.headers["Retry-After"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(student_reports.c.previous_grade).where(
            student_reports.c.previous_grade.in_([1.0, 2.0]))).first() is None


@pytest.mark.parametrize("period", [{"start_date_period": "9999-01-04", "end_date_period": "9999-12-31"},
                                    {"start_date_period": "0001-01-01", "end_date_period": "0001-06-30"}])
def test_a_semester_at_the_ends_of_the_calendar_is_stored(client, engine, upload_token, period) -> None:
    """Dates beyond pandas' timestamps (1677-2262) are valid semesters: found by schemathesis,
    a 500 when the first upload's bulk write went through pandas' nanosecond timestamps."""
    rows = student_rows(5)
    response = upload(client, upload_token, to_csv(rows), period)
    assert response.status_code == 200, response.json
    assert response.json["inserted"] == 5
    with engine.connect() as conn:
        ends = set(conn.execute(sa.select(student_reports.c.end_date_period)).scalars())
    assert {d.isoformat() for d in ends} == {period["end_date_period"]}
