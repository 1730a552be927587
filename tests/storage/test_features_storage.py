"""``gradewatch.storage.features`` on SQLite and PostgreSQL (the ``engine`` fixture runs both)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch import schema
from gradewatch.quality.cleaning import clean_semester
from gradewatch.semesters import Period
from gradewatch.storage.features import (
    USABLE_COLUMNS,
    load_cleaned_features,
    load_semester_reports,
    load_usable_rows,
    replace_cleaned_features,
)
from gradewatch.storage.partitions import ensure_semester_partitions, partition_name
from gradewatch.storage.tables import cleaned_features, student_reports

SPRING = Period(date(2026, 1, 12), date(2026, 6, 30))
AUTUMN = Period(date(2026, 9, 1), date(2026, 12, 18))
T0 = datetime(2026, 2, 1, tzinfo=UTC)


def report_rows(period: tuple[date, date], n: int, prefix: str = "s") -> list[dict]:
    rng = np.random.default_rng(n)
    return [{
        "user_id": f"{prefix}{i:04d}", "start_date_period": period.start, "end_date_period": period.end,
        "gender": ["female", "male", "femal"][i % 3], "attendance_rate": round(float(rng.uniform(60, 100)), 1),
        "study_hours_per_week": 999.0 if i == 1 else round(float(rng.uniform(2, 30)), 1),
        "previous_grade": round(float(rng.uniform(40, 100)), 1),
        "extracurricular_activities_count": int(i % 4),
        "parental_support": None if i == 2 else "medium",
        "final_grade": None if i % 5 == 0 else round(float(rng.uniform(30, 100)), 1),
        "created_at": T0, "updated_at": T0 + timedelta(hours=i),
    } for i in range(n)]


def store_reports(engine: Engine, rows: list[dict]) -> None:
    with engine.begin() as conn:
        for start, end in {(r["start_date_period"], r["end_date_period"]) for r in rows}:
            ensure_semester_partitions(conn, Period(start, end))  # PostgreSQL: one per semester
        conn.execute(sa.insert(student_reports), rows)


def count_cleaned(engine: Engine, period: tuple[date, date]) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(cleaned_features).where(
            cleaned_features.c.start_date_period == period.start,
            cleaned_features.c.end_date_period == period.end)).scalar_one()


def test_load_semester_reports_returns_one_semester_with_canonical_columns(engine: Engine):
    store_reports(engine, report_rows(SPRING, 12) + report_rows(AUTUMN, 5, prefix="a"))
    frame = load_semester_reports(engine, SPRING)
    assert list(frame.columns) == [schema.USER_ID, schema.START, schema.END, *schema.FEATURES,
                                   schema.FINAL_GRADE, "updated_at"]
    assert len(frame) == 12 and frame["user_id"].str.startswith("s").all()
    assert (frame["start_date_period"] == SPRING.start).all() and (frame["end_date_period"] == SPRING.end).all()
    assert frame.loc[1, "study_hours_per_week"] == 999.0  # stored as-is; cleaning decides
    assert frame.loc[2, "parental_support"] is None
    assert np.isnan(frame.loc[0, "final_grade"])
    assert str(frame["extracurricular_activities_count"].dtype) == "Int64"
    assert load_semester_reports(engine, Period(date(2020, 1, 1), date(2020, 6, 1))).empty


def test_replace_cleaned_features_round_trips_a_cleaning_result(engine: Engine):
    store_reports(engine, report_rows(SPRING, 20))
    result = clean_semester(load_semester_reports(engine, SPRING))
    assert replace_cleaned_features(engine, SPRING, result.frame) == 20
    stored = load_cleaned_features(engine)
    assert len(stored) == 20
    expected = result.frame.set_index("user_id")
    got = stored.set_index("user_id")
    for column in (*schema.FEATURES, schema.FINAL_GRADE, "quality_flags", "excluded"):
        left, right = got[column].astype(object), expected.loc[got.index, column].astype(object)
        for a, b in zip(left, right, strict=True):
            assert (pd.isna(a) and pd.isna(b)) or a == b, column
    assert got.loc["s0001", "quality_flags"] == "sentinel:study_hours_per_week;imputed:study_hours_per_week"
    assert got.loc["s0000", "gender"] == "female"
    assert stored["cleaned_at"].notna().all()


def test_replacing_a_semester_replaces_only_that_semester(engine: Engine):
    store_reports(engine, report_rows(SPRING, 10) + report_rows(AUTUMN, 4, prefix="a"))
    for period in (SPRING, AUTUMN):
        replace_cleaned_features(engine, period, clean_semester(load_semester_reports(engine, period)).frame)
    smaller = clean_semester(load_semester_reports(engine, SPRING)).frame.iloc[:3]
    replace_cleaned_features(engine, SPRING, smaller)
    assert count_cleaned(engine, SPRING) == 3
    assert count_cleaned(engine, AUTUMN) == 4
    only_autumn = load_cleaned_features(engine, [AUTUMN])
    assert set(only_autumn["user_id"]) == {"a0000", "a0001", "a0002", "a0003"}
    assert len(load_cleaned_features(engine, [SPRING, AUTUMN])) == 7
    assert load_cleaned_features(engine, []).empty


def test_a_failed_replacement_leaves_the_previous_version_intact(engine: Engine):
    store_reports(engine, report_rows(SPRING, 10))
    first = clean_semester(load_semester_reports(engine, SPRING)).frame
    replace_cleaned_features(engine, SPRING, first)
    # The second version breaks the unique key halfway through its rows: the database refuses
    # it, and the delete that ran before it in the same transaction is rolled back.
    broken = pd.concat([first.assign(attendance_rate=1.0), first.iloc[[4]]], ignore_index=True)
    with pytest.raises(sa.exc.IntegrityError):
        replace_cleaned_features(engine, SPRING, broken)
    stored = load_cleaned_features(engine, [SPRING])
    assert len(stored) == 10
    assert (stored["attendance_rate"] != 1.0).all()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_replacement_leaves_no_dead_rows_and_its_pages_all_visible(engine: Engine):
    """PostgreSQL: the next version of a semester takes the previous one's place instead of
    being written beside its dead rows, and its rows are written frozen, so the steps that read
    them next do not rewrite every page."""
    store_reports(engine, report_rows(SPRING, 3000))
    cleaned = clean_semester(load_semester_reports(engine, SPRING)).frame
    replace_cleaned_features(engine, SPRING, cleaned)
    first_size = partition_pages(engine, SPRING)[2]
    replace_cleaned_features(engine, SPRING, cleaned.assign(attendance_rate=75.0))
    pages, visible, size = partition_pages(engine, SPRING)
    assert size == first_size, (first_size, size)  # a DELETE would have left 3000 dead rows: twice the size
    assert pages > 5 and visible == pages, (pages, visible)
    assert set(load_cleaned_features(engine, [SPRING])["attendance_rate"]) == {75.0}


def partition_pages(engine: Engine, period: Period) -> tuple[int, int, int]:
    """The semester's cleaned_features partition: its pages and all-visible pages as the
    replacement's ANALYZE counted them, and its size in bytes now."""
    with engine.connect() as conn:
        return tuple(conn.exec_driver_sql(
            "SELECT relpages, relallvisible, pg_relation_size(oid) FROM pg_class WHERE relname = %(name)s",
            {"name": partition_name(cleaned_features, period)}).one())


def test_rows_of_another_semester_are_refused_before_anything_is_written(engine: Engine):
    store_reports(engine, report_rows(AUTUMN, 3, prefix="a"))
    frame = clean_semester(load_semester_reports(engine, AUTUMN)).frame
    with pytest.raises(ValueError, match="another semester"):
        replace_cleaned_features(engine, SPRING, frame)
    assert count_cleaned(engine, SPRING) == 0


def test_an_empty_cleaning_result_empties_the_semester(engine: Engine):
    store_reports(engine, report_rows(SPRING, 4))
    replace_cleaned_features(engine, SPRING, clean_semester(load_semester_reports(engine, SPRING)).frame)
    assert replace_cleaned_features(engine, SPRING, clean_semester(pd.DataFrame()).frame) == 0
    assert count_cleaned(engine, SPRING) == 0


def test_usable_rows_are_the_cleaned_rows_not_excluded_with_only_the_columns_asked(engine: Engine):
    store_reports(engine, report_rows(SPRING, 20) + report_rows(AUTUMN, 5, prefix="a"))
    for period in (SPRING, AUTUMN):
        replace_cleaned_features(engine, period, clean_semester(load_semester_reports(engine, period)).frame)
    with engine.begin() as conn:  # two students excluded by hand
        conn.execute(sa.update(cleaned_features).where(cleaned_features.c.user_id.in_(["s0003", "s0005"]))
                     .values(excluded=True))
    cleaned = load_cleaned_features(engine, [SPRING])
    usable = cleaned.loc[~cleaned["excluded"]].reset_index(drop=True)
    waiting = usable.loc[usable[schema.FINAL_GRADE].isna()].reset_index(drop=True)
    assert 0 < len(waiting) < len(usable) < len(cleaned)

    every = load_usable_rows(engine, SPRING)
    assert list(every.columns) == list(USABLE_COLUMNS)
    pd.testing.assert_frame_equal(every, usable[list(USABLE_COLUMNS)])
    waiting_ids = load_usable_rows(engine, SPRING, with_user_id=True, waiting_only=True)
    assert list(waiting_ids.columns) == [schema.USER_ID, *USABLE_COLUMNS]
    pd.testing.assert_frame_equal(waiting_ids, waiting[[schema.USER_ID, *USABLE_COLUMNS]])
