"""PostgreSQL: the per-student tables keep no index on their surrogate id

Migration 0003 gave ``student_reports``, ``cleaned_features`` and ``grade_predictions`` the
primary key (id, start_date_period, end_date_period), the partition key being required in it.
No query looks a row up by that key: a student's row is found by the unique (user_id, semester)
key (``student_reports``, ``cleaned_features``) or the (semester, user_id) index
(``grade_predictions``); ``id`` only orders a few reads of a whole semester (the cleaning step's,
the history's ties), which sort either way.
Yet every row written pays for the index: each semester run COPYs a semester's cleaned rows
and one or two predictions per student, and the first upload of a semester builds the index
when it attaches the loaded partition.

The constraint is dropped, on the parent and so on every partition. ``id`` stays, NOT NULL,
filled from its sequence as before, so ids stay unique and keep their order; SQLite keeps its
INTEGER PRIMARY KEY (the rowid: free). The natural key stays unique:
``student_reports`` and ``cleaned_features`` keep their UNIQUE (user_id, semester), NOT NULL
columns every one. (A school that replicates these tables logically names that unique index
as their REPLICA IDENTITY; ``grade_predictions``, a history, takes REPLICA IDENTITY FULL.)

Measured on this server, 1M rows into a partition shaped like ``grade_predictions`` (INSERT ...
SELECT, two rounds; the second insert joins rows of the same students): 3.2 / 4.5-4.8 s with
the primary key, 2.4 / 3.7-3.8 s without. Building the index when a 1M-row upload's partition
is attached took 0.29-0.33 s of the ATTACH. The semester run's figures are in docs/scaling.md.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TABLES = ("student_reports", "cleaned_features", "grade_predictions")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
                   "PRIMARY KEY (id, start_date_period, end_date_period)")
