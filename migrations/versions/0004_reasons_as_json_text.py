"""grade_predictions.reasons as json, not jsonb (PostgreSQL only)

The reasons are written once per student and prediction run and always read back whole; no
query looks inside them. ``json`` keeps the text as written and only validates it, where
``jsonb`` parses every document into its binary form on the way in: for a 100k-student run that
parse was about a quarter of a second of the reasons' cost (bench/reasons_cost.py, issue 15).
SQLite stores JSON as text already (no-op there).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # On the partitioned parent: PostgreSQL changes every partition with it.
        op.execute("ALTER TABLE grade_predictions ALTER COLUMN reasons TYPE json USING reasons::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE grade_predictions ALTER COLUMN reasons TYPE jsonb USING reasons::jsonb")
