"""Dagster's own event log, shipped to Logstash like every other GradeWatch record."""

from __future__ import annotations

import logging

from gradewatch.logs import shipping_handler


class DagsterHandler(logging.Handler):
    """Ships Dagster's own event log records to Logstash; named in ``dagster.yaml``::

        python_logs:
          managed_python_loggers: [gradewatch, gradewatch_assets]
          dagster_handler_config:
            handlers:
              gradewatch:
                class: gradewatch_assets.log_shipping.DagsterHandler
                service: dagster

    Records get ``run_id``, ``job_name``, ``step_key``, ``dagster_event_type`` and the
    partition as ``semester``. Without ``LOGSTASH_HOST`` it does nothing: Dagster already
    prints its records to the console.
    """

    def __init__(self, service: str = "dagster", level: int | str = logging.NOTSET) -> None:
        super().__init__(level)
        self.service = service
        self._env_checked = False  # read the environment once, not on every record

    def emit(self, record: logging.LogRecord) -> None:
        front = shipping_handler(self.service, from_env=not self._env_checked)
        self._env_checked = True
        if front is not None:
            front.handle(record)
        # The same record may next propagate to the root logger (managed loggers do):
        # mark it so that the root handler does not ship it a second time.
        record._gw_shipped = True
