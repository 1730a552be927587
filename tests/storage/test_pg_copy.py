"""The binary COPY of a frame (PostgreSQL only: SQLite has no COPY; its writes are INSERTs,
tested with every storage function on both backends)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gradewatch.storage import pg_copy
from gradewatch.storage.pg_copy import copy_frame

POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

metadata = sa.MetaData()
every_kind = sa.Table(
    "copy_every_kind", metadata,
    sa.Column("name", sa.String(64)), sa.Column("note", sa.Text), sa.Column("score", sa.Float),
    sa.Column("count", sa.Integer), sa.Column("big", sa.BigInteger), sa.Column("small", sa.SmallInteger),
    sa.Column("flag", sa.Boolean), sa.Column("day", sa.Date), sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("doc", sa.JSON), sa.Column("bdoc", postgresql.JSONB),
)


def frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(16)
    names = np.array([f"s{i:07d}" for i in range(n)], dtype=object)
    names[1] = "Zoë Ødegård 学生 \"quoted\", comma\\backslash\ttab\nline"
    names[2] = None
    names[3] = ""
    if n > 10_010:  # the same in a chunk of ASCII text only, which is encoded in one piece
        names[10_005], names[10_006], names[10_007] = None, "", "line\nbreak, \"quoted\""
    scores = rng.normal(60, 15, n)
    scores[4], scores[5], scores[6] = np.nan, np.inf, -0.0
    counts = pd.array(rng.integers(-5, 40, n), dtype="Int64")
    counts[7] = pd.NA
    flags = pd.array(rng.random(n) > 0.5, dtype="boolean")
    flags[8] = pd.NA
    days = pd.Series([date(1999, 12, 31), date(2000, 1, 1), date(2026, 6, 30), date(9999, 12, 31),
                      date(1, 1, 1)] * (n // 5 + 1))[:n]  # beyond pandas' timestamps, both ways
    days[9] = None
    moments = pd.Series([datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
                         datetime(1998, 7, 4, tzinfo=UTC)] * (n // 2 + 1))[:n]
    moments[10] = None
    docs = np.array(['[{"feature":"attendance_rate","value":61.5,"effect":-7.5}]', "[]"] * (n // 2 + 1),
                    dtype=object)[:n]
    docs[11] = None
    return pd.DataFrame({
        "name": names, "note": "x" * 3000, "score": scores, "count": counts,
        "big": np.arange(n, dtype=np.int64) * 10_000_000_000, "small": np.arange(n) % 300 - 150,
        "flag": flags, "day": days, "at": moments, "doc": docs, "bdoc": docs,
    })


@POSTGRES_ONLY
@pytest.mark.parametrize("rows", [0, 1, 12, 25_003])
def test_every_kind_of_value_reads_back_as_an_insert_would_store_it(engine, rows, monkeypatch) -> None:
    monkeypatch.setattr(pg_copy, "_ROWS_PER_CHUNK", 10_000)  # 25,003 rows: three chunks, one short
    data = frame(max(rows, 12)).head(rows)
    with engine.begin() as conn:
        metadata.create_all(conn)
    try:
        with engine.begin() as conn:
            copy_frame(conn, every_kind, data)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(every_kind)).all()
        assert len(stored) == rows
        for want, got in zip(data.itertuples(index=False), stored, strict=True):
            assert got.name == (None if want.name is None else want.name)
            assert got.note == want.note
            assert got.score == (None if not math.isfinite(want.score) else want.score)
            assert got.count == (None if pd.isna(want.count) else int(want.count))
            assert (got.big, got.small) == (want.big, want.small)
            assert got.flag == (None if pd.isna(want.flag) else bool(want.flag))
            assert got.day == (None if pd.isna(want.day) else want.day)
            assert got.at == (None if pd.isna(want.at) else want.at)
            expected_doc = None if want.doc is None else json.loads(want.doc)
            assert got.doc == expected_doc and got.bdoc == expected_doc
    finally:
        with engine.begin() as conn:
            metadata.drop_all(conn)


@POSTGRES_ONLY
def test_a_refused_row_raises_as_an_insert_would_and_stores_nothing(engine) -> None:
    strict = sa.Table("copy_strict", sa.MetaData(), sa.Column("name", sa.String(64), primary_key=True))
    with engine.begin() as conn:
        strict.create(conn)
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            copy_frame(conn, strict, pd.DataFrame({"name": ["a", "b", "a"]}))
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(strict)).scalar_one() == 0
    finally:
        with engine.begin() as conn:
            strict.drop(conn)


@POSTGRES_ONLY
def test_constants_are_written_in_every_row(engine, monkeypatch) -> None:
    monkeypatch.setattr(pg_copy, "_ROWS_PER_CHUNK", 4)
    constants = {"name": "v1 ünïcode", "day": date(2026, 1, 12), "at": datetime(2026, 3, 1, 8, tzinfo=UTC),
                 "doc": '{"a":[1,2]}', "bdoc": '{"a":[1,2]}', "count": None, "flag": True, "big": 2**40}
    with engine.begin() as conn:
        metadata.create_all(conn)
    try:
        with engine.begin() as conn:
            copy_frame(conn, every_kind, pd.DataFrame({"score": [1.5, 2.5, np.nan, 4.0, 5.0, 6.0]}),
                       constants=constants)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(every_kind).order_by(every_kind.c.score)).all()
        assert [r.score for r in stored] == [1.5, 2.5, 4.0, 5.0, 6.0, None]
        for row in stored:
            assert (row.name, row.day, row.at, row.count, row.flag, row.big) == (
                "v1 ünïcode", date(2026, 1, 12), datetime(2026, 3, 1, 8, tzinfo=UTC), None, True, 2**40)
            assert row.doc == row.bdoc == {"a": [1, 2]}
    finally:
        with engine.begin() as conn:
            metadata.drop_all(conn)
