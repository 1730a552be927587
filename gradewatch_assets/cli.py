"""``gradewatch up`` and ``gradewatch demo`` (registered as gradewatch.commands entry points)."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from gradewatch.cli.common import settings_from_env
from gradewatch.storage import make_engine
from gradewatch.storage.migrate import upgrade
from gradewatch.storage.reports import count_rows
from gradewatch.storage.tokens import create_token
from gradewatch_assets.demo import DemoError, demo_environment, fresh_workdir, run_demo
from gradewatch_assets.instance import prepare_dagster_home
from gradewatch_assets.local import Supervisor, platform_services


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Web app port.")
@click.option("--dagster-port", default=3000, show_default=True, type=click.IntRange(1, 65535),
              help="Dagster UI port.")
@click.option("--demo", "with_demo", is_flag=True,
              help="Load a generated demo history first, when the database is empty.")
def up(host: str, port: int, dagster_port: int, with_demo: bool) -> None:
    """Run the whole platform: migrations, the Dagster UI and daemon, and the web app."""
    settings = settings_from_env()
    upgrade(settings.database_url)
    home = prepare_dagster_home(settings.dagster_home)
    engine = make_engine(settings.database_url)
    if with_demo and count_rows(engine) == 0:
        click.echo("loading the demo history (a minute or two) ...")
        try:
            run_demo(fresh_workdir(home.parent / "var" / "demo"), settings, echo=click.echo)
        except DemoError as exc:
            raise click.ClickException(f"the demo history could not be loaded: {exc}") from exc
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    token = create_token(engine, f"up-{stamp}", frozenset({"upload", "report"}))
    engine.dispose()
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": settings.database_url, "DAGSTER_HOME": str(home)}
    supervisor = Supervisor(
        platform_services(host=host, port=port, dagster_port=dagster_port, workspace=home / "workspace.yaml"),
        env,
    )
    supervisor.start()
    click.echo(f"GradeWatch is starting:\n"
               f"  web app and API   http://{host}:{port}/\n"
               f"  Dagster UI        http://{host}:{dagster_port}/\n"
               f"  database          {settings.database_url}\n"
               f"  Dagster home      {home}\n"
               f"Press Ctrl-C to stop. A fresh upload+report token ('up-{stamp}'):\n{token}")
    raise SystemExit(supervisor.wait())


@click.command()
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the database, Dagster home and reports go (default: a new temporary folder).")
@click.option("--students", default=600, show_default=True, type=click.IntRange(50, 1_000_000),
              help="Students per semester.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo(workdir: Path | None, students: int, as_json: bool) -> None:
    """The lifecycle end to end, headless: upload, clean, predict, evaluate, drift, retrain."""
    workdir = fresh_workdir(workdir)
    settings = demo_environment(workdir)
    click.echo(f"demo in {workdir}\n  database {settings.database_url}\n  Dagster home {settings.dagster_home}")
    try:
        result = run_demo(workdir, settings, students=students, echo=click.echo)
    except DemoError as exc:
        raise click.ClickException(f"demo failed: {exc}") from exc
    except Exception as exc:  # any other failure: one line and a non-zero exit, details in the logs
        raise click.ClickException(f"demo failed: {type(exc).__name__}: {exc}") from exc
    summary = result.summary
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    click.echo("\nSummary")
    click.echo(f"  partitions     {', '.join(summary['partitions'])}")
    click.echo(f"  runs           {summary['runs']}")
    click.echo(f"  rows cleaned   {summary['rows_cleaned']}")
    for model in summary["models"]:
        click.echo(f"  model          {model['version']} {model['status']} {model['algorithm']} "
                   f"CV MAE {model['cv_mae']}")
    for row in summary["accuracy"]:
        click.echo(f"  accuracy       {row['semester']} {row['model']} MAE {row['mae']} "
                   f"within tolerance: {row['within_tolerance']}")
    for semester, features in summary["drift"].items():
        click.echo(f"  drift          {semester}: {features}")
    for item in summary["alerts"]:
        click.echo(f"  alert          {item['kind']} {item['semester'] or ''}: {item['message']}")
    for semester, path in summary["reports"].items():
        click.echo(f"  report         {semester}: {path}")
