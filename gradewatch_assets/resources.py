"""The application database as a Dagster resource."""


import logging

import dagster as dg
from sqlalchemy.engine import Engine

from gradewatch.logs import configure_logging
from gradewatch.monitoring.alerts import configure_alerts
from gradewatch.settings import Settings, load_settings
from gradewatch.storage import make_engine

_engines: dict[str, Engine] = {}


class GradewatchResource(dg.ConfigurableResource):
    """GradeWatch's settings and database, read from the ``GRADEWATCH_*`` environment variables.

    ``database_url`` overrides ``GRADEWATCH_DATABASE_URL`` (tests point it at their database).
    """

    database_url: str | None = None

    def settings(self) -> Settings:
        settings = load_settings()
        return settings.with_overrides(database_url=self.database_url) if self.database_url else settings

    def engine(self) -> Engine:
        """One engine (one connection pool) per database and process."""
        url = self.settings().database_url
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = self.settings()
        configure_logging(settings, "dagster")
        # Dagster checks its own SQLite schema with Alembic on every instance load; its INFO
        # lines would drown GradeWatch's records.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        configure_alerts(settings, self.engine())
