"""``GET /metrics``: Prometheus' text format, written by prometheus-client (SPEC section 5).

Two kinds of figures:

* this process's requests, counted as they are answered: ``gradewatch_http_requests_total``
  by method, route (the URL rule, e.g. ``/get-report``, so that odd paths cannot create
  endless series) and status, and ``gradewatch_http_request_duration_seconds``, a latency
  histogram by method and route. prometheus-client's metrics take a lock per update, so the
  counts stay exact under waitress's threads.
* the platform's state, read from the database at each scrape (one small GROUP BY each, see
  :mod:`gradewatch.storage.operations`): accepted uploads and their rows by outcome (whatever
  the process that took them: web app, upload page or inbox sensor), the champion version,
  and the age of each open semester's latest predictions. A database that cannot be read
  sets ``gradewatch_database_up`` to 0 instead of failing the scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from gradewatch.storage.db import utcnow
from gradewatch.storage.operations import open_semester_predictions, upload_totals
from gradewatch.storage.registry import champion_version

log = logging.getLogger(__name__)
UNMATCHED_ROUTE = "<unmatched>"  # 404s: one series, whatever path was asked for


class PlatformCollector(Collector):
    """The database's figures, read at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gradewatch_database_up", "1 when the application database answered this scrape")
        try:
            totals = upload_totals(self.engine)
            champion = champion_version(self.engine)
            open_semesters = open_semester_predictions(self.engine)
        except SQLAlchemyError as exc:
            log.warning("metrics: the database could not be read (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        uploads = CounterMetricFamily("gradewatch_uploads", "Accepted uploads, by source and mode",
                                      labels=["source", "mode"])
        rows = CounterMetricFamily("gradewatch_upload_rows", "Rows of accepted uploads, by outcome",
                                   labels=["source", "mode", "outcome"])
        for total in totals:
            uploads.add_metric([total.source, total.mode], total.uploads)
            for outcome, count in total.rows.items():
                rows.add_metric([total.source, total.mode, outcome], count)
        yield uploads
        yield rows
        info = GaugeMetricFamily("gradewatch_champion_info", "1 for the champion model's version",
                                 labels=["version"])
        if champion is not None:
            info.add_metric([champion], 1)
        yield info
        count = GaugeMetricFamily("gradewatch_open_semesters", "Semesters with students still waiting "
                                  "for a final grade")
        count.add_metric([], len(open_semesters))
        yield count
        age = GaugeMetricFamily("gradewatch_predictions_age_seconds", "Age of each open semester's latest "
                                "champion predictions (absent: never predicted)", labels=["semester"])
        now = utcnow()
        for period, predicted_at in sorted(open_semesters.items()):
            if predicted_at is not None:
                age.add_metric([period.key], (now - predicted_at).total_seconds())
        yield age


class AppMetrics:
    """The registry of one app: its own, so that two apps in one process never share counts."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gradewatch_http_requests", "HTTP requests answered, by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("gradewatch_http_request_duration_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry)
        self.registry.register(PlatformCollector(engine))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def init_metrics(app: Flask, engine: Engine) -> AppMetrics:
    metrics = AppMetrics(engine)
    app.extensions["gradewatch.metrics"] = metrics

    @app.before_request
    def _started() -> None:
        g._metrics_started = time.perf_counter()

    @app.after_request
    def _answered(response: Response) -> Response:
        started = g.pop("_metrics_started", None)
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
            metrics.observe(request.method, rule, response.status_code, time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    return metrics
