"""GradeWatch web app: the upload, report and prediction API over the asset tables.

``create_app(settings)`` is the app factory (as in Flask's tutorial): configuration is passed
in, never read from globals, so tests and ``gradewatch serve`` build their own app.
"""

from __future__ import annotations

import secrets

from flask import Flask
from sqlalchemy.engine import Engine

from gradewatch.models.registry import ChampionCache
from gradewatch.settings import Settings, load_settings
from gradewatch.storage import make_engine
from webapp.api import api
from webapp.errors import register_error_handlers
from webapp.metrics import init_metrics
from webapp.pages import init_pages
from webapp.request_logging import init_request_logging
from webapp.requests import InMemoryRequest


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        # A fresh key per process unless one is configured: sessions then last until restart.
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["gradewatch.settings"] = settings
    app.extensions["gradewatch.engine"] = engine = engine or make_engine(settings.database_url)
    # Reloads the model only when the champion changes: promotions apply without a restart.
    app.extensions["gradewatch.champion"] = ChampionCache(engine)

    app.register_blueprint(api)
    init_pages(app)  # the HTML pages for registrars and teachers
    register_error_handlers(app)
    init_request_logging(app)
    init_metrics(app, engine)  # GET /metrics, and the request counts it shows
    return app
