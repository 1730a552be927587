"""The ``gradewatch`` command line (SPEC section 7).

Each command group lives in its own module and is registered here. Commands that need Flask or
Dagster (``serve``, ``up``, ``demo``) live beside the web app and the Dagster code and are
found through the ``gradewatch.commands`` entry points, loaded only when invoked: the core
never imports Flask or Dagster, and ``gradewatch token list`` does not pay for importing them.
Every command answers bad input with a one-line message and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import contextlib
from importlib import metadata

import click

from gradewatch.cli.common import cli_errors
from gradewatch.cli.data import clean, generate
from gradewatch.cli.db import db
from gradewatch.cli.erase import erase
from gradewatch.cli.models import drift, model
from gradewatch.cli.tokens import token
from gradewatch.logs import configure_logging
from gradewatch.settings import SettingsError, load_settings


class PluginGroup(click.Group):
    """A group that also offers the commands registered under the ``gradewatch.commands`` entry points."""

    def _plugins(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group="gradewatch.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in self._plugins():
            command = self._plugins()[name].load()
        return command


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gradewatch")
def cli() -> None:
    """GradeWatch: predict final grades and flag the students who need help."""
    with contextlib.suppress(SettingsError):  # the command itself reports a bad setting by name
        configure_logging(load_settings(), "cli")


cli.add_command(db)
cli.add_command(token)
cli.add_command(generate)
cli.add_command(clean)
cli.add_command(model)
cli.add_command(drift)
cli.add_command(erase)


def main() -> None:
    with cli_errors():
        cli()
