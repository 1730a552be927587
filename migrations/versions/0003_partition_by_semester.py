"""partition the per-student tables by semester (PostgreSQL only)

student_reports, cleaned_features and grade_predictions become
PARTITION BY RANGE (start_date_period, end_date_period), one partition per semester that holds
rows, the rows moved over in one INSERT per table, the indexes built after the move. The primary
key becomes (id, start_date_period, end_date_period): PostgreSQL requires the partition key in
every unique index of a partitioned table; ids still come from the same sequence. SQLite keeps
its single tables (no-op there).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from datetime import date, timedelta

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

KEY = ("start_date_period", "end_date_period")
# Per table: the unique constraints and the indexes that the parent carries, by name.
TABLES = {
    "student_reports": {
        "unique": {"uq_student_reports_user_id_start_date_period_end_date_period":
                   ("user_id", *KEY)},
        "index": {"ix_student_reports_start_date_period_end_date_period_updated_at":
                  (*KEY, "updated_at")},
    },
    "cleaned_features": {
        "unique": {"uq_cleaned_features_user_id_start_date_period_end_date_period":
                   ("user_id", *KEY)},
        "index": {"ix_cleaned_features_start_date_period_end_date_period": KEY},
    },
    "grade_predictions": {
        "unique": {},
        "index": {"ix_grade_predictions_start_date_period_end_date_period_user_id": (*KEY, "user_id"),
                  "ix_grade_predictions_model_version": ("model_version",)},
    },
}


def _partition_name(table: str, start: date, end: date) -> str:
    # as gradewatch.storage.partitions names them (isoformat: 8 digits, the year 1 too)
    return f"{table}_{start.isoformat().replace('-', '')}_{end.isoformat().replace('-', '')}"


def _drop_keys(old: str, table: str, spec: dict) -> None:
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_{table}")
    for name in spec["unique"]:
        op.execute(f"ALTER TABLE {old} DROP CONSTRAINT {name}")
    for name in spec["index"]:
        op.execute(f"DROP INDEX {name}")


def _add_keys(table: str, spec: dict, primary_key: tuple[str, ...]) -> None:
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(primary_key)})")
    for name, columns in spec["unique"].items():
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({', '.join(columns)})")
    for name, columns in spec["index"].items():
        op.execute(f"CREATE INDEX {name} ON {table} ({', '.join(columns)})")


def _rebuild(table: str, partitioned: bool) -> None:
    """Move ``table`` into a new one of the same columns, partitioned or not; keys built last."""
    spec = TABLES[table]
    old = f"{table}_before_0003"
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    _drop_keys(old, table, spec)  # names are per schema: free them for the new table
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")  # outlives the old table
    partition_by = " PARTITION BY RANGE (start_date_period, end_date_period)" if partitioned else ""
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){partition_by}")
    if partitioned:
        semesters = op.get_bind().exec_driver_sql(
            f"SELECT DISTINCT start_date_period, end_date_period FROM {old}").all()
        for start, end in semesters:
            # The day after the end, or MAXVALUE for a semester ending on the calendar's last day.
            after = "MAXVALUE" if end == date.max else f"'{end + timedelta(days=1)}'"
            op.execute(f"CREATE TABLE {_partition_name(table, start, end)} PARTITION OF {table} "
                       f"FOR VALUES FROM ('{start}', '{end}') TO ('{start}', {after})")
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    op.execute(f"DROP TABLE {old}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    _add_keys(table, spec, ("id", *KEY) if partitioned else ("id",))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        _rebuild(table, partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        _rebuild(table, partitioned=False)
