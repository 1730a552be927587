"""Indexes that no query reads leave the per-student tables

Every row a semester run or an upload writes pays for each index of its table. Two indexes
are never read:

* PostgreSQL: (start_date_period, end_date_period) on ``student_reports`` and
  ``cleaned_features``. Each partition holds exactly one semester, so the index has one key,
  repeated for every row. A query that names the semester is pruned to the partition and
  reads all of it (a sequential scan, whatever the index); a query that joins on the student
  uses the unique (user_id, semester) index. The first upload of a semester built it when the
  loaded partition was attached; every semester run maintained it while COPYing the cleaned
  rows. SQLite keeps it: its single tables hold every semester, and a semester's reads go
  through it (``gradewatch.storage.tables`` declares it for SQLite only).
* Both databases: (model_version) on ``grade_predictions``. No query selects history rows by
  model version (the registry's figures come from ``model_performance`` and
  ``performance_estimates``), and each prediction run adds a row per student to it.

``grade_predictions`` keeps (start_date_period, end_date_period, user_id): the report's joins
look students up through it.

Measured here on a table shaped like ``cleaned_features`` (its primary key and unique key),
two runs each: an INSERT of 1M rows took 5.2 and 4.6 s with the semester index, 4.2 and 4.2 s
without. The semester run's figures are in ``docs/scaling.md``.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SEMESTER_INDEXES = {
    "student_reports": "ix_student_reports_start_date_period_end_date_period",
    "cleaned_features": "ix_cleaned_features_start_date_period_end_date_period",
}
MODEL_VERSION_INDEX = "ix_grade_predictions_model_version"


def upgrade() -> None:
    # On PostgreSQL, dropping a partitioned table's index drops it on every partition.
    op.drop_index(MODEL_VERSION_INDEX, table_name="grade_predictions")
    if op.get_bind().dialect.name == "postgresql":
        for table, index in SEMESTER_INDEXES.items():
            op.drop_index(index, table_name=table)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, index in SEMESTER_INDEXES.items():
            op.create_index(index, table, ["start_date_period", "end_date_period"])
    op.create_index(MODEL_VERSION_INDEX, "grade_predictions", ["model_version"])
