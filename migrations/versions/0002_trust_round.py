"""trust round: semester versions, performance estimates, prediction role and reasons,
calibration columns, token expiry, training sets, erasure audit

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('grade_predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='champion', nullable=False))
        batch_op.add_column(sa.Column('reasons', JSONType, nullable=True))
        batch_op.create_check_constraint(op.f('ck_grade_predictions_role'), "role IN ('champion', 'shadow')")
    with op.batch_alter_table('model_performance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='champion', nullable=False))
        batch_op.add_column(sa.Column('brier_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('calibration_error', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('reliability', JSONType, nullable=True))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('semester_versions',
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('row_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('graded_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('start_date_period', 'end_date_period', name=op.f('pk_semester_versions'))
    )
    # Existing semesters start at version 1 with their current counts.
    op.execute(
        "INSERT INTO semester_versions (start_date_period, end_date_period, row_count, graded_count, version, updated_at) "
        "SELECT start_date_period, end_date_period, COUNT(*), COUNT(final_grade), 1, MAX(updated_at) "
        "FROM student_reports GROUP BY start_date_period, end_date_period"
    )
    op.create_table('performance_estimates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('n_students', sa.Integer(), nullable=False),
    sa.Column('estimated_mae', sa.Float(), nullable=False),
    sa.Column('estimated_mae_lower', sa.Float(), nullable=True),
    sa.Column('estimated_mae_upper', sa.Float(), nullable=True),
    sa.Column('realised_mae', sa.Float(), nullable=True),
    sa.Column('estimated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('realised_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_performance_estimates')),
    sa.UniqueConstraint('start_date_period', 'end_date_period', 'model_version',
                        name=op.f('uq_performance_estimates_start_date_period_end_date_period_model_version'))
    )
    op.create_table('training_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('semesters', JSONType, nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('selected_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sets'))
    )
    with op.batch_alter_table('training_sets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_sets_content_sha256'), ['content_sha256'], unique=False)

    op.create_table('erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('semester', sa.String(length=32), nullable=True),
    sa.Column('counts', JSONType, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures'))
    )


def downgrade() -> None:
    op.drop_table('erasures')
    op.drop_table('training_sets')
    op.drop_table('performance_estimates')
    op.drop_table('semester_versions')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('model_performance', schema=None) as batch_op:
        batch_op.drop_column('reliability')
        batch_op.drop_column('calibration_error')
        batch_op.drop_column('brier_score')
        batch_op.drop_column('role')
    with op.batch_alter_table('grade_predictions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_grade_predictions_role'), type_='check')
        batch_op.drop_column('reasons')
        batch_op.drop_column('role')
