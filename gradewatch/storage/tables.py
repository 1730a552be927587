"""SQLAlchemy Core tables for every table of SPEC section 3.

The Alembic migrations in ``migrations/`` create exactly these; a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gradewatch.semesters import Period

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def _semester_columns() -> list[sa.Column]:
    return [
        sa.Column("start_date_period", sa.Date, nullable=False),
        sa.Column("end_date_period", sa.Date, nullable=False),
    ]


def in_semester(table: sa.Table | sa.FromClause, period: Period) -> sa.ColumnElement[bool]:
    """The one filter on a semester, for every table keyed by one."""
    return sa.and_(table.c.start_date_period == period.start, table.c.end_date_period == period.end)


def same_semester(a: sa.Table | sa.FromClause, b: sa.Table | sa.FromClause) -> sa.ColumnElement[bool]:
    """Join condition: rows of ``a`` and ``b`` of the same semester."""
    return sa.and_(a.c.start_date_period == b.c.start_date_period, a.c.end_date_period == b.c.end_date_period)


def latest_prediction(predictions: sa.Table | sa.FromClause, reports: sa.Table | sa.FromClause
                      ) -> sa.ColumnElement[bool]:
    """Join condition: a report row's latest prediction, the one whose time is on the row.

    Only the champion's: a shadow run never reaches a report, even at the same instant."""
    return sa.and_(predictions.c.user_id == reports.c.user_id, same_semester(predictions, reports),
                   predictions.c.predicted_at == reports.c.prediction_report_date,
                   predictions.c.role == "champion")


def _feature_columns() -> list[sa.Column]:
    return [
        sa.Column("gender", sa.String(40)),
        sa.Column("attendance_rate", sa.Float),
        sa.Column("study_hours_per_week", sa.Float),
        sa.Column("previous_grade", sa.Float),
        sa.Column("extracurricular_activities_count", sa.Integer),
        sa.Column("parental_support", sa.String(40)),
    ]


# The per-student tables' ``id``: SQLite's rowid; on PostgreSQL a plain column filled from its
# sequence, with no index (migration 0007: no query looks a row up by it).
student_reports = sa.Table(
    "student_reports",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    *_semester_columns(),
    *_feature_columns(),
    sa.Column("final_grade", sa.Float),
    sa.Column("prediction_final_grade", sa.Float),
    sa.Column("prediction_report_date", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("user_id", "start_date_period", "end_date_period"),
    # Not on updated_at, which every write changes: see migration 0005 (updates in place).
    # SQLite only: a PostgreSQL partition holds one semester (migration 0006).
    sa.Index(None, "start_date_period", "end_date_period").ddl_if(dialect="sqlite"),
)

cleaned_features = sa.Table(
    "cleaned_features",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    *_semester_columns(),
    *_feature_columns(),
    sa.Column("final_grade", sa.Float),
    sa.Column("excluded", sa.Boolean, nullable=False, default=False),
    sa.Column("quality_flags", sa.Text, nullable=False, default=""),
    sa.Column("cleaned_at", Timestamp, nullable=False),
    sa.UniqueConstraint("user_id", "start_date_period", "end_date_period"),
    sa.Index(None, "start_date_period", "end_date_period").ddl_if(dialect="sqlite"),  # see above
)

grade_predictions = sa.Table(
    "grade_predictions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    *_semester_columns(),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("predicted_grade", sa.Float, nullable=False),
    sa.Column("interval_lower", sa.Float, nullable=False),
    sa.Column("interval_upper", sa.Float, nullable=False),
    sa.Column("probability_below_pass", sa.Float, nullable=False),
    sa.Column("at_risk", sa.Boolean, nullable=False),
    sa.Column("predicted_at", Timestamp, nullable=False),
    # 'champion' rows reach reports; 'shadow' rows are the kept challenger's, scored beside it.
    sa.Column("role", sa.String(16), nullable=False, server_default="champion"),
    # Up to three indicators that lower the predicted grade most (JSON list), or NULL. Plain
    # json, not jsonb, on PostgreSQL: written once per student and run, read back whole, never
    # queried inside, and jsonb's parse on the way in was a quarter of the reasons' cost.
    sa.Column("reasons", sa.JSON()),
    sa.CheckConstraint("role IN ('champion', 'shadow')", name="role"),
    sa.Index(None, "start_date_period", "end_date_period", "user_id"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.String(64), nullable=False, unique=True),
    sa.Column("algorithm", sa.String(100), nullable=False),
    sa.Column("parameters", JSONType, nullable=False),
    sa.Column("feature_spec", JSONType, nullable=False),
    sa.Column("training_semesters", JSONType, nullable=False),
    sa.Column("metrics", JSONType, nullable=False),
    sa.Column("reference_profile", JSONType),
    sa.Column("artifact", sa.LargeBinary, nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("trained_at", Timestamp, nullable=False),
    sa.Column("promoted_at", Timestamp),
    sa.CheckConstraint("status IN ('champion', 'challenger', 'retired')", name="status"),
    # At most one champion at any moment, enforced by the database itself.
    sa.Index(
        "uq_model_versions_one_champion",
        "status",
        unique=True,
        postgresql_where=sa.text("status = 'champion'"),
        sqlite_where=sa.text("status = 'champion'"),
    ),
)

drift_metrics = sa.Table(
    "drift_metrics",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    *_semester_columns(),
    sa.Column("reference_version", sa.String(64)),
    sa.Column("feature", sa.String(64), nullable=False),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("statistic", sa.Float),
    sa.Column("p_value", sa.Float),
    sa.Column("psi", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("drifted", sa.Boolean, nullable=False),
    sa.Column("computed_at", Timestamp, nullable=False),
    sa.Index(None, "start_date_period", "end_date_period"),
)

model_performance = sa.Table(
    "model_performance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_semester_columns(),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("n_students", sa.Integer, nullable=False),
    sa.Column("grade_coverage", sa.Float),
    sa.Column("mae", sa.Float),
    sa.Column("rmse", sa.Float),
    sa.Column("r2", sa.Float),
    sa.Column("interval_coverage", sa.Float),
    sa.Column("at_risk_precision", sa.Float),
    sa.Column("at_risk_recall", sa.Float),
    sa.Column("at_risk_f1", sa.Float),
    sa.Column("by_gender", JSONType, nullable=False),
    sa.Column("max_gender_gap", JSONType, nullable=False),
    sa.Column("within_tolerance", sa.Boolean),
    sa.Column("role", sa.String(16), nullable=False, server_default="champion"),
    sa.Column("brier_score", sa.Float),
    sa.Column("calibration_error", sa.Float),
    sa.Column("reliability", JSONType),
    sa.Column("evaluated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("start_date_period", "end_date_period", "model_version"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp),
    sa.Column("last_used_at", Timestamp),
    sa.Column("expires_at", Timestamp),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_name", sa.String(100)),
    sa.Column("source", sa.String(16), nullable=False),
    *_semester_columns(),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("rows_received", sa.Integer, nullable=False),
    sa.Column("rows_inserted", sa.Integer, nullable=False),
    sa.Column("rows_updated", sa.Integer, nullable=False),
    sa.Column("rows_unchanged", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("dropped_columns", JSONType, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "content_sha256"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("semester", sa.String(32)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("context", JSONType, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("delivered", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "fingerprint", "created_at"),
)

semester_versions = sa.Table(
    "semester_versions",
    metadata,
    *_semester_columns(),
    sa.Column("row_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("graded_count", sa.Integer, nullable=False, server_default="0"),
    # Bumped inside every upload transaction that changes the semester: sensors compare it.
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.PrimaryKeyConstraint("start_date_period", "end_date_period"),
)

performance_estimates = sa.Table(
    "performance_estimates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_semester_columns(),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("n_students", sa.Integer, nullable=False),
    sa.Column("estimated_mae", sa.Float, nullable=False),
    sa.Column("estimated_mae_lower", sa.Float),
    sa.Column("estimated_mae_upper", sa.Float),
    sa.Column("realised_mae", sa.Float),
    sa.Column("estimated_at", Timestamp, nullable=False),
    sa.Column("realised_at", Timestamp),
    sa.UniqueConstraint("start_date_period", "end_date_period", "model_version"),
)

# What the training_set asset selected: the graded semesters, their usable rows and a digest of
# their content, one row per distinct selection (a retraining decision names the one it used).
training_sets = sa.Table(
    "training_sets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("semesters", JSONType, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("selected_at", Timestamp, nullable=False),
    sa.Index(None, "content_sha256"),
)

# One audit row per erasure: what was erased and how many rows, never the student's id.
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("semester", sa.String(32)),
    sa.Column("counts", JSONType, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)
