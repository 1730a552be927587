"""``gradewatch up`` and ``gradewatch demo`` (registered as gradewatch.commands entry points)."""

import json
import os
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import click

from gradewatch.cli.common import settings_from_env
from gradewatch.monitoring.status import platform_status, render_status
from gradewatch.settings import Settings
from gradewatch.storage import make_engine
from gradewatch.storage.db import masked_url
from gradewatch.storage.migrate import upgrade
from gradewatch.storage.registry import champion_version
from gradewatch.storage.reports import count_rows
from gradewatch.storage.tokens import temporary_token
from gradewatch_assets.demo import DemoError, DemoResult, demo_environment, fresh_workdir, run_demo
from gradewatch_assets.instance import prepare_dagster_home
from gradewatch_assets.local import Supervisor, platform_services
from gradewatch_assets.status import recent_runs

PROFILE_VARIABLE = "GRADEWATCH_TRAINING_PROFILE"
DEMO_STUDENTS = 300  # per semester: enough for the story, loaded in a few minutes on two cores


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Web app port.")
@click.option("--dagster-port", default=3000, show_default=True, type=click.IntRange(1, 65535),
              help="Dagster UI port.")
@click.option("--no-demo", is_flag=True,
              help="Start empty: do not load the demo history into an empty database.")
def up(host: str, port: int, dagster_port: int, no_demo: bool) -> None:
    """Run the whole platform: migrations, the Dagster UI and daemon, and the web app.

    On an empty database (no student rows, no model) a generated demo history is loaded first,
    so that there is something to look at; a database that holds anything is never touched.
    """
    settings = settings_from_env()
    upgrade(settings.database_url)
    home = prepare_dagster_home(settings.dagster_home)
    engine = make_engine(settings.database_url)
    demo = None
    if not no_demo and count_rows(engine) == 0 and champion_version(engine) is None:
        demo = _load_demo(settings, home.parent / "var" / "demo")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": settings.database_url, "DAGSTER_HOME": str(home)}
    supervisor = Supervisor(
        platform_services(host=host, port=port, dagster_port=dagster_port, workspace=home / "workspace.yaml"),
        env,
    )
    # The token lives as long as this command: revoked when the platform stops, however it stops.
    with temporary_token(engine, f"up-{stamp}", frozenset({"upload", "report"})) as token, closing(supervisor):
        supervisor.start()
        web, dagster_ui = f"http://{host}:{port}/", f"http://{host}:{dagster_port}/"
        click.echo(f"GradeWatch is starting (give it half a minute):\n"
                   f"  web app and API   {web}\n"
                   f"  Dagster UI        {dagster_ui}\n"
                   f"  database          {masked_url(settings.database_url)}\n"
                   f"  Dagster home      {home}\n")
        click.echo(_where_to_click(web, dagster_ui, demo) if demo else
                   f"Where to start: {web} -> Sign in with the token below -> Upload a semester's CSV; "
                   f"the platform status: uv run gradewatch status")
        click.echo(f"Press Ctrl-C to stop. A fresh upload+report token ('up-{stamp}'), revoked when "
                   f"GradeWatch stops:\n{token}")
        engine.dispose()  # no connection held while the platform runs; the revocation opens one
        code = supervisor.wait()
    engine.dispose()
    raise SystemExit(code)


def _load_demo(settings: Settings, workdir: Path) -> DemoResult:
    click.echo("The database is empty: loading the demo history first (a few minutes; --no-demo to skip) ...")
    # The demo's models train with the small search unless a profile was chosen; only for the demo.
    profile = os.environ.get(PROFILE_VARIABLE)
    os.environ.setdefault(PROFILE_VARIABLE, "quick")
    try:
        return run_demo(fresh_workdir(workdir), settings, students=DEMO_STUDENTS, echo=click.echo)
    except DemoError as exc:
        raise click.ClickException(f"the demo history could not be loaded: {exc}") from exc
    finally:
        if profile is None:
            os.environ.pop(PROFILE_VARIABLE, None)


def _where_to_click(web: str, dagster_ui: str, demo: DemoResult) -> str:
    partitions = demo.summary.get("partitions", [])
    open_semester = next(iter(sorted(demo.reports, reverse=True)), "")
    return "\n".join([
        f"Demo history loaded: {len(partitions)} semesters, {demo.summary.get('runs')} runs. Where to click:",
        f"  {web}reports  -> Sign in (token below), then download {open_semester}: the students at risk",
        f"  {web}model-status  -> the champion model, its accuracy per semester, the drift found",
        f"  {dagster_ui}assets  -> grade_predictions -> Partitions: every semester materialized",
        f"  {dagster_ui}runs  -> the runs the demo made; Automation: the sensors now watching",
        "  uv run gradewatch status  -> the same on one screen",
    ])


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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON, for scripts.")
def status(as_json: bool) -> None:
    """One screen: semesters, champion and shadow models, last runs, recent alerts."""
    settings = settings_from_env()
    engine = make_engine(settings.database_url)
    try:
        found = platform_status(engine, datetime.now(UTC))
    finally:
        engine.dispose()
    found["runs"] = recent_runs(settings.dagster_home)
    click.echo(json.dumps(found, indent=2, default=str) if as_json else render_status(found))
