"""Careless and hostile uploads through POST /update-csv and POST /predict (issue 13), on both
backends: truncated rows, ids that are not ids, free text in a category, repeated columns,
JSON nested without end. Each gets a clear 4xx or a row error, and nothing of it is stored."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from gradewatch.quality.cleaning import clean_semester
from gradewatch.semesters import Period
from gradewatch.storage.features import load_semester_reports
from gradewatch.storage.tables import metadata, student_reports
from tests.support.csvdata import HEADER, upload

HEADER_LINE = ",".join(HEADER)
S9 = "S9,F,90,10,80,1,High"


def stored(engine, user_id: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(student_reports).where(student_reports.c.user_id == user_id)).mappings().first()
    return dict(row) if row else None


def every_stored_text(engine) -> str:
    with engine.connect() as conn:
        return "\n".join(str(value) for table in metadata.sorted_tables
                         for row in conn.execute(sa.select(table)) for value in row)


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join([HEADER_LINE, *lines]) + "\n").encode()


# ---- 13.1: a truncated row --------------------------------------------------------------------

def test_a_truncated_row_is_a_row_error_and_erases_nothing(client, engine, upload_token) -> None:
    assert upload(client, upload_token, csv_bytes(S9)).json["inserted"] == 1
    before = stored(engine, "S9")
    answer = upload(client, upload_token, csv_bytes("S9", "S8,M,70,5,60,0,Low"))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["errors"] == [{"row": 2, "column": None, "message": "row 2 has 1 value, the header has 7"}]
    assert (body["updated"], body["inserted"], body["rejected"]) == (0, 1, 1)
    assert stored(engine, "S9") == before


# ---- 13.2: ids that are not ids ----------------------------------------------------------------

def test_an_unbalanced_quote_stores_nothing_and_says_so(client, engine, upload_token) -> None:
    answer = upload(client, upload_token, csv_bytes('"S1,F,90,10,80,1,High', "S2,M,80,5,70,0,Low",
                                                    "S3,F,85,8,75,2,Medium"))
    assert answer.status_code == 400
    assert "quote" in answer.json["error"] and "never closed" in answer.json["error"]
    assert stored(engine, "S2") is None and stored(engine, "S3") is None


@pytest.mark.parametrize("bad_id", ["Zelda Q", "S1\u202e", "S1,2", "O'Brien", "a\u200bb"])
def test_an_id_that_is_not_an_id_is_a_row_error_that_never_echoes_it(client, engine, upload_token,
                                                                        bad_id: str) -> None:
    quoted = '"' + bad_id.replace('"', '""') + '"'
    answer = upload(client, upload_token, csv_bytes(S9, f"{quoted},M,80,5,70,0,Low", "S7,F,60,3,50,0,Low"))
    assert answer.status_code == 200, answer.json
    assert [(e["row"], e["column"]) for e in answer.json["errors"]] == [(3, "user_id")]
    assert "not a student id" in answer.json["errors"][0]["message"]
    assert bad_id not in answer.get_data(as_text=True)
    assert answer.json["inserted"] == 2
    assert bad_id not in every_stored_text(engine)


def test_campus_formats_and_email_style_ids_are_accepted(client, engine, upload_token) -> None:
    ids = ["S1234", "2024-00123", "jean.dupont@uni.example", "é1", "ab12cd", "AB-12/3"]
    answer = upload(client, upload_token, csv_bytes(*(f"{i},F,90,10,80,1,High" for i in ids)))
    assert (answer.json["inserted"], answer.json["errors"]) == (len(ids), [])


def test_a_file_of_mostly_bad_ids_is_refused_as_a_whole(client, engine, upload_token) -> None:
    names = ["Zelda Quintanilla", "Ada Lovelace", "Alan Turing", "S4"]
    answer = upload(client, upload_token, csv_bytes(*(f"{n},F,90,10,80,1,High" for n in names)))
    assert answer.status_code == 400
    assert "3 of 4 rows have a user_id that is not a student id" in answer.json["error"]
    assert "Nothing was stored" in answer.json["error"]
    assert "Zelda" not in answer.get_data(as_text=True)
    assert stored(engine, "S4") is None


def test_the_id_pattern_is_a_setting(app, client, engine, upload_token) -> None:
    settings = app.extensions["gradewatch.settings"]
    app.extensions["gradewatch.settings"] = settings.with_overrides(user_id_pattern=r"S\d{4}")
    answer = upload(client, upload_token, csv_bytes("S1234,F,90,10,80,1,High", "S1,F,90,10,80,1,High",
                                                    "S4321,F,90,10,80,1,High"))
    assert [e["row"] for e in answer.json["errors"]] == [3]
    assert answer.json["inserted"] == 2


# ---- 13.9: free text in a category -------------------------------------------------------------

FREE_TEXT = {"gender": "zelda.q@example.org", "parental_support": "call mum +41795550123"}


def test_free_text_in_a_category_is_never_stored_logged_or_echoed(client, engine, upload_token,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rows = [f"S{i},F,90,10,80,1,High" for i in range(10)]
    rows[3] = "S3,zelda.q@example.org,90,10,80,1,High"
    rows[5] = 'S5,M,70,5,60,0,"call mum +41795550123"'
    answer = upload(client, upload_token, csv_bytes(*rows))
    assert answer.status_code == 200, answer.json
    body = answer.get_data(as_text=True)
    assert answer.json["inserted"] == 10 and answer.json["errors"] == []
    assert [(n["row"], n["column"]) for n in answer.json["notes"]] == [(5, "gender"), (7, "parental_support")]
    assert (stored(engine, "S3")["gender"], stored(engine, "S5")["parental_support"]) == (None, None)
    # The cleaning step imputes the cell that was read as missing.
    period = Period.from_key("2026-01-12_2026-06-30")
    cleaned = clean_semester(load_semester_reports(engine, period)).frame.set_index("user_id")
    assert "imputed:gender" in cleaned.loc["S3", "quality_flags"]
    assert "imputed:parental_support" in cleaned.loc["S5", "quality_flags"]
    everything = every_stored_text(engine) + body + caplog.text
    assert "S3" in everything  # the scan sees the stored rows
    for text in FREE_TEXT.values():
        for fragment in (text, text.lower(), "example.org", "41795550123", "call mum"):
            assert fragment not in everything


def test_misspelled_categories_still_reach_the_cleaning_step(client, engine, upload_token) -> None:
    upload(client, upload_token, csv_bytes("S1,femal,90,10,80,1,hgih"))
    assert (stored(engine, "S1")["gender"], stored(engine, "S1")["parental_support"]) == ("femal", "hgih")


# ---- bad input: repeated column, nested JSON ---------------------------------------------------

@pytest.mark.parametrize(("header", "named"), [
    ("StudentID,StudentID", 'the column "StudentID" twice'),
    ("user_id,StudentID", 'two columns for user_id ("user_id" and "StudentID")'),
])
def test_a_repeated_column_is_refused_naming_it(client, engine, upload_token, header: str, named: str) -> None:
    content = f"{header},gender,attendance_rate,study_hours_per_week,previous_grade," \
              f"extracurricular_activities_count,parental_support\nS1,S2,F,90,10,80,1,High\n"
    answer = upload(client, upload_token, content.encode())
    assert answer.status_code == 400
    assert named in answer.json["error"]
    assert stored(engine, "S1") is None and stored(engine, "S2") is None


def test_deeply_nested_json_on_predict_is_a_400(client) -> None:
    answer = client.post("/predict", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert answer.status_code == 400
    assert "nested too deeply" in answer.json["error"]

