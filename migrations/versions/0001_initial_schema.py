"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 12:32:42.510152
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('semester', sa.String(length=32), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('context', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_fingerprint_created_at'), ['fingerprint', 'created_at'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('name', name=op.f('uq_api_tokens_name')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_tokens_token_sha256'))
    )
    op.create_table('cleaned_features',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=40), nullable=True),
    sa.Column('attendance_rate', sa.Float(), nullable=True),
    sa.Column('study_hours_per_week', sa.Float(), nullable=True),
    sa.Column('previous_grade', sa.Float(), nullable=True),
    sa.Column('extracurricular_activities_count', sa.Integer(), nullable=True),
    sa.Column('parental_support', sa.String(length=40), nullable=True),
    sa.Column('final_grade', sa.Float(), nullable=True),
    sa.Column('excluded', sa.Boolean(), nullable=False),
    sa.Column('quality_flags', sa.Text(), nullable=False),
    sa.Column('cleaned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cleaned_features')),
    sa.UniqueConstraint('user_id', 'start_date_period', 'end_date_period', name=op.f('uq_cleaned_features_user_id_start_date_period_end_date_period'))
    )
    with op.batch_alter_table('cleaned_features', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cleaned_features_start_date_period_end_date_period'), ['start_date_period', 'end_date_period'], unique=False)

    op.create_table('drift_metrics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('reference_version', sa.String(length=64), nullable=True),
    sa.Column('feature', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('statistic', sa.Float(), nullable=True),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('psi', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('drifted', sa.Boolean(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_metrics'))
    )
    with op.batch_alter_table('drift_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drift_metrics_start_date_period_end_date_period'), ['start_date_period', 'end_date_period'], unique=False)

    op.create_table('grade_predictions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('predicted_grade', sa.Float(), nullable=False),
    sa.Column('interval_lower', sa.Float(), nullable=False),
    sa.Column('interval_upper', sa.Float(), nullable=False),
    sa.Column('probability_below_pass', sa.Float(), nullable=False),
    sa.Column('at_risk', sa.Boolean(), nullable=False),
    sa.Column('predicted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_predictions'))
    )
    with op.batch_alter_table('grade_predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grade_predictions_model_version'), ['model_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_grade_predictions_start_date_period_end_date_period_user_id'), ['start_date_period', 'end_date_period', 'user_id'], unique=False)

    op.create_table('model_performance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('n_students', sa.Integer(), nullable=False),
    sa.Column('grade_coverage', sa.Float(), nullable=True),
    sa.Column('mae', sa.Float(), nullable=True),
    sa.Column('rmse', sa.Float(), nullable=True),
    sa.Column('r2', sa.Float(), nullable=True),
    sa.Column('interval_coverage', sa.Float(), nullable=True),
    sa.Column('at_risk_precision', sa.Float(), nullable=True),
    sa.Column('at_risk_recall', sa.Float(), nullable=True),
    sa.Column('at_risk_f1', sa.Float(), nullable=True),
    sa.Column('by_gender', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('max_gender_gap', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('within_tolerance', sa.Boolean(), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_performance')),
    sa.UniqueConstraint('start_date_period', 'end_date_period', 'model_version', name=op.f('uq_model_performance_start_date_period_end_date_period_model_version'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=100), nullable=False),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('feature_spec', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('training_semesters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reference_profile', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('artifact', sa.LargeBinary(), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('champion', 'challenger', 'retired')", name=op.f('ck_model_versions_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('version', name=op.f('uq_model_versions_version'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index('uq_model_versions_one_champion', ['status'], unique=True, postgresql_where=sa.text("status = 'champion'"), sqlite_where=sa.text("status = 'champion'"))

    op.create_table('student_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=40), nullable=True),
    sa.Column('attendance_rate', sa.Float(), nullable=True),
    sa.Column('study_hours_per_week', sa.Float(), nullable=True),
    sa.Column('previous_grade', sa.Float(), nullable=True),
    sa.Column('extracurricular_activities_count', sa.Integer(), nullable=True),
    sa.Column('parental_support', sa.String(length=40), nullable=True),
    sa.Column('final_grade', sa.Float(), nullable=True),
    sa.Column('prediction_final_grade', sa.Float(), nullable=True),
    sa.Column('prediction_report_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_student_reports')),
    sa.UniqueConstraint('user_id', 'start_date_period', 'end_date_period', name=op.f('uq_student_reports_user_id_start_date_period_end_date_period'))
    )
    with op.batch_alter_table('student_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_student_reports_start_date_period_end_date_period_updated_at'), ['start_date_period', 'end_date_period', 'updated_at'], unique=False)

    op.create_table('uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_name', sa.String(length=100), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('start_date_period', sa.Date(), nullable=False),
    sa.Column('end_date_period', sa.Date(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('rows_received', sa.Integer(), nullable=False),
    sa.Column('rows_inserted', sa.Integer(), nullable=False),
    sa.Column('rows_updated', sa.Integer(), nullable=False),
    sa.Column('rows_unchanged', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('dropped_columns', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads'))
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uploads_content_sha256'), ['content_sha256'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uploads_content_sha256'))

    op.drop_table('uploads')
    with op.batch_alter_table('student_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_student_reports_start_date_period_end_date_period_updated_at'))

    op.drop_table('student_reports')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_model_versions_one_champion', postgresql_where=sa.text("status = 'champion'"), sqlite_where=sa.text("status = 'champion'"))

    op.drop_table('model_versions')
    op.drop_table('model_performance')
    with op.batch_alter_table('grade_predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grade_predictions_start_date_period_end_date_period_user_id'))
        batch_op.drop_index(batch_op.f('ix_grade_predictions_model_version'))

    op.drop_table('grade_predictions')
    with op.batch_alter_table('drift_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drift_metrics_start_date_period_end_date_period'))

    op.drop_table('drift_metrics')
    with op.batch_alter_table('cleaned_features', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cleaned_features_start_date_period_end_date_period'))

    op.drop_table('cleaned_features')
    op.drop_table('api_tokens')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_fingerprint_created_at'))

    op.drop_table('alerts')

