"""``gradewatch db upgrade``: apply the Alembic migrations."""

from __future__ import annotations

import click

from gradewatch.cli.common import settings_from_env
from gradewatch.storage.migrate import UnsupportedDatabase, current_revision, upgrade


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations to GRADEWATCH_DATABASE_URL."""
    settings = settings_from_env()
    try:
        upgrade(settings.database_url, revision)
    except UnsupportedDatabase as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database at revision {current_revision(settings.database_url)}")
