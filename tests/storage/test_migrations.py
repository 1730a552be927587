"""The Alembic migrations create exactly the tables the code declares, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gradewatch.semesters import Period
from gradewatch.storage import make_engine
from gradewatch.storage.migrate import UnsupportedDatabase, alembic_config, require_postgres_version, upgrade
from gradewatch.storage.partitions import is_partition_name
from gradewatch.storage.tables import grade_predictions, metadata

SPRING = Period(date(2026, 1, 12), date(2026, 6, 30))


def test_migrations_match_the_declared_tables(engine) -> None:
    with engine.connect() as conn:
        # A semester's partition (PostgreSQL) is created at run time, not declared.
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, kind, _parents: not (kind == "table" and is_partition_name(name)),
            # An index declared for another database only (``ddl_if``) is not expected here.
            "include_object": lambda item, _name, kind, reflected, _other: reflected or kind != "index"
            or item._ddl_if is None or item._ddl_if.dialect == conn.dialect.name,
        })
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migration_0004_keeps_every_prediction_and_its_reasons(unmigrated_url: str) -> None:
    """reasons jsonb -> json (PostgreSQL): the stored documents read back the same, both ways."""
    upgrade(unmigrated_url, "0002")  # the reasons arrived in 0002, as jsonb; 0003 partitions them
    engine = make_engine(unmigrated_url)
    reasons = [[{"feature": "attendance_rate", "value": 61.0, "typical": 84.0, "effect": -7.5,
                 "actionable": True}], [], None]
    try:
        # Written as 0002's table takes them (the code's COPY writes the types of the head).
        with engine.begin() as conn:
            for user_id, why in zip(("s1", "s2", "s3"), reasons, strict=True):
                conn.execute(sa.text(
                    "INSERT INTO grade_predictions (user_id, start_date_period, end_date_period, model_version,"
                    " predicted_grade, interval_lower, interval_upper, probability_below_pass, at_risk,"
                    " predicted_at, role, reasons) VALUES (:user_id, :start, :end, 'v1', 50, 40, 90, 0.5, true,"
                    " :at, 'champion', :reasons)"),
                    {"user_id": user_id, "start": SPRING.start, "end": SPRING.end,
                     "at": datetime(2026, 3, 1, tzinfo=UTC), "reasons": None if why is None else json.dumps(why)})

        def stored() -> list:
            with engine.connect() as conn:
                return list(conn.execute(sa.select(grade_predictions.c.reasons)
                                         .order_by(grade_predictions.c.user_id)).scalars())

        assert stored() == reasons
        upgrade(unmigrated_url, "0004")  # through 0003's partitioning
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                assert conn.exec_driver_sql(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attname = 'reasons' "
                    "AND attrelid = 'grade_predictions'::regclass").scalar_one() == "json"
        assert stored() == reasons
        command.downgrade(alembic_config(unmigrated_url), "0003")
        assert stored() == reasons
    finally:
        engine.dispose()


def test_migration_0005_keeps_the_reports_and_leaves_room_on_their_pages(unmigrated_url: str) -> None:
    """The reports' semester index loses updated_at; PostgreSQL partitions get fillfactor 50."""
    upgrade(unmigrated_url, "0004")
    engine = make_engine(unmigrated_url)
    postgres = engine.dialect.name == "postgresql"

    def state() -> tuple[list, set[str], list]:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT user_id, attendance_rate, updated_at FROM student_reports "
                                        "ORDER BY user_id")).all()
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("student_reports")}
            options = conn.exec_driver_sql(
                "SELECT c.reloptions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'student_reports'::regclass").scalars().all() if postgres else []
        return [tuple(r) for r in rows], indexes, options

    try:
        with engine.begin() as conn:
            if postgres:  # a semester partition holding data, as 0003 and the code of 0004 made it
                conn.exec_driver_sql(
                    "CREATE TABLE student_reports_20260112_20260630 PARTITION OF student_reports "
                    "FOR VALUES FROM ('2026-01-12', '2026-06-30') TO ('2026-01-12', '2026-07-01')")
            for index, user_id in enumerate(("s1", "s2", "s3")):
                conn.execute(sa.text(
                    "INSERT INTO student_reports (user_id, start_date_period, end_date_period, attendance_rate,"
                    " created_at, updated_at) VALUES (:user_id, :start, :end, :rate, :at, :at)"),
                    {"user_id": user_id, "start": SPRING.start, "end": SPRING.end, "rate": 80.0 + index,
                     "at": datetime(2026, 3, 1 + index, tzinfo=UTC)})
        before, old_indexes, old_options = state()
        assert len(before) == 3 and "ix_student_reports_start_date_period_end_date_period_updated_at" in old_indexes

        upgrade(unmigrated_url, "0005")
        rows, indexes, options = state()
        assert rows == before
        assert "ix_student_reports_start_date_period_end_date_period" in indexes
        assert not any("updated_at" in name for name in indexes)
        assert options == ([["fillfactor=50"]] if postgres else [])

        command.downgrade(alembic_config(unmigrated_url), "0004")
        assert state() == (before, old_indexes, old_options)
    finally:
        engine.dispose()


def create_spring_partitions(conn: sa.Connection, tables: tuple[str, ...]) -> None:
    """SPRING's partition of each of ``tables``, created as the code of 0003 to 0006 did."""
    for table in tables:
        conn.exec_driver_sql(
            f"CREATE TABLE {table}_20260112_20260630 PARTITION OF {table} "
            "FOR VALUES FROM ('2026-01-12', '2026-06-30') TO ('2026-01-12', '2026-07-01')")


def test_migration_0006_drops_the_indexes_nothing_reads_and_keeps_the_rows(unmigrated_url: str) -> None:
    """PostgreSQL: the one-key (start, end) index leaves the partitioned tables and every
    partition; SQLite, whose tables hold every semester, keeps it. grade_predictions loses its
    model_version index on both. Rows stay; the downgrade restores every index."""
    upgrade(unmigrated_url, "0005")
    engine = make_engine(unmigrated_url)
    postgres = engine.dialect.name == "postgresql"
    tables = ("student_reports", "cleaned_features")
    semester_columns = ["start_date_period", "end_date_period"]

    def state() -> tuple[list, dict[str, bool], bool]:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            rows = conn.execute(sa.text("SELECT user_id, attendance_rate FROM student_reports ORDER BY user_id")).all()
            # The partitions' own indexes (PostgreSQL), or the tables' (SQLite), found by their
            # columns: PostgreSQL truncates a long partition index name.
            names = [f"{t}_20260112_20260630" for t in tables] if postgres else list(tables)
            semester_index = {n: any(i["column_names"] == semester_columns for i in inspector.get_indexes(n))
                              for n in names}
            model_index = any(i["column_names"] == ["model_version"]
                              for i in inspector.get_indexes("grade_predictions"))
        return [tuple(r) for r in rows], semester_index, model_index

    try:
        with engine.begin() as conn:
            if postgres:
                create_spring_partitions(conn, tables)
            for index, user_id in enumerate(("s1", "s2")):
                conn.execute(sa.text(
                    "INSERT INTO student_reports (user_id, start_date_period, end_date_period, attendance_rate,"
                    " created_at, updated_at) VALUES (:user_id, :start, :end, :rate, :at, :at)"),
                    {"user_id": user_id, "start": SPRING.start, "end": SPRING.end, "rate": 80.0 + index,
                     "at": datetime(2026, 3, 1, tzinfo=UTC)})
        before = state()
        assert len(before[0]) == 2 and all(before[1].values()) and before[2]

        upgrade(unmigrated_url, "0006")
        rows, semester_index, model_index = state()
        assert rows == before[0]
        assert semester_index == {n: not postgres for n in before[1]}
        assert not model_index

        command.downgrade(alembic_config(unmigrated_url), "0005")
        assert state() == before
    finally:
        engine.dispose()


def test_migration_0007_drops_the_surrogate_key_index_and_keeps_ids_coming(unmigrated_url: str) -> None:
    """PostgreSQL: the (id, semester) primary key leaves the three partitioned tables and their
    partitions; the rows stay, ``id`` still comes from its sequence, and the (user_id, semester)
    key still refuses a second row of a student. SQLite keeps its rowid key. The downgrade
    restores the primary keys."""
    upgrade(unmigrated_url, "0006")
    engine = make_engine(unmigrated_url)
    postgres = engine.dialect.name == "postgresql"
    tables = ("student_reports", "cleaned_features", "grade_predictions")
    insert = sa.text("INSERT INTO student_reports (user_id, start_date_period, end_date_period, attendance_rate, "
                     "created_at, updated_at) VALUES (:user_id, :start, :end, 80.0, :at, :at)")
    key = {"start": SPRING.start, "end": SPRING.end, "at": datetime(2026, 3, 1, tzinfo=UTC)}

    def state() -> tuple[list, dict[str, list[str]]]:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            rows = conn.execute(sa.text("SELECT id, user_id FROM student_reports ORDER BY id")).all()
            names = [*tables, *(f"{t}_20260112_20260630" for t in tables)] if postgres else list(tables)
            keys = {n: inspector.get_pk_constraint(n)["constrained_columns"] for n in names}
        return [tuple(r) for r in rows], keys

    try:
        with engine.begin() as conn:
            if postgres:
                create_spring_partitions(conn, tables)
            for user_id in ("s1", "s2"):
                conn.execute(insert, {"user_id": user_id, **key})
        before = state()
        with_id = ["id", "start_date_period", "end_date_period"] if postgres else ["id"]
        assert before[1] == {n: with_id for n in before[1]}

        upgrade(unmigrated_url, "0007")
        rows, keys = state()
        assert rows == before[0]
        assert keys == {n: [] if postgres else ["id"] for n in before[1]}
        with engine.begin() as conn:
            conn.execute(insert, {"user_id": "s3", **key})
        rows, _ = state()
        assert rows[-1][1] == "s3" and rows[-1][0] > max(r[0] for r in before[0])
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"user_id": "s3", **key})

        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM student_reports WHERE user_id = 's3'"))
        command.downgrade(alembic_config(unmigrated_url), "0006")
        assert state() == before
    finally:
        engine.dispose()


@pytest.mark.parametrize(("server_version_num", "refused"), [(140011, True), (130000, True), (150000, False),
                                                             (160010, False)])
def test_a_postgresql_older_than_15_is_refused_with_what_to_do(server_version_num, refused) -> None:
    """Re-uploads merge with MERGE (PostgreSQL 15): an older server is refused before any
    migration, with a message that names both versions and what to do."""
    if not refused:
        require_postgres_version(server_version_num)
        return
    with pytest.raises(UnsupportedDatabase) as raised:
        require_postgres_version(server_version_num)
    message = str(raised.value)
    assert f"PostgreSQL {server_version_num // 10_000}." in message and "PostgreSQL 15 or later" in message
    assert "gradewatch db upgrade" in message and "Traceback" not in message

