"""``gradewatch serve``: the web app under waitress, a production WSGI server."""

from __future__ import annotations

import click

from gradewatch.cli.common import settings_from_env
from gradewatch.logs import configure_logging
from gradewatch.monitoring.alerts import configure_alerts
from webapp import create_app
from webapp.server import run_server


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, threads: int) -> None:
    """Serve the upload, report and prediction API and the web pages."""
    settings = settings_from_env()
    configure_logging(settings, "webapp")
    app = create_app(settings)
    # Alerts raised inside requests (a corrupt model artifact) are stored and de-duplicated.
    configure_alerts(settings, app.extensions["gradewatch.engine"])
    run_server(app, settings, host=host, port=port, threads=threads)
