"""Alembic environment: migrates the database named by the ``sqlalchemy.url`` option.

``gradewatch db upgrade`` sets that option from ``GRADEWATCH_DATABASE_URL``; running
``alembic`` by hand works the same way with ``-x url=...``.
"""

from __future__ import annotations

from alembic import context

from gradewatch.storage.db import make_engine
from gradewatch.storage.tables import metadata

config = context.config
url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
if not url:
    raise SystemExit("No database URL: set GRADEWATCH_DATABASE_URL or pass -x url=...")


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
