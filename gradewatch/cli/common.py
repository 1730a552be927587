"""Helpers shared by the command modules: settings, engine, and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.settings import Settings, SettingsError, load_settings
from gradewatch.storage import make_engine


def settings_from_env() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def engine_from_env() -> Engine:
    return make_engine(settings_from_env().database_url)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one readable line and exit status 1 or 2."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        if _missing_table(exc):
            click.echo(f"Error: the database is not ready ({str(exc.orig).strip()}); "
                       "run 'gradewatch db upgrade' first", err=True)
        else:
            click.echo(f"Error: cannot reach the database: {str(exc.orig).strip()}", err=True)
        sys.exit(2)


def _missing_table(exc: sa.exc.DBAPIError) -> bool:
    text = str(exc.orig)
    return "no such table" in text or getattr(exc.orig, "sqlstate", None) == "42P01"
