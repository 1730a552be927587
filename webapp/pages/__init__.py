"""Server-rendered pages for registrars and teachers (issue 8): Jinja, one CSS file, no script.

``init_pages(app)`` registers them on an app made by ``create_app``. Views are thin: they call
the same core functions as the JSON API (ingest_csv, the report queries, score_rows).
"""

from __future__ import annotations

from flask import Flask

from gradewatch.settings import Settings
from webapp.pages import account, model_status, predict, reports, students, upload  # noqa: F401  (views)
from webapp.pages.blueprint import pages
from webapp.pages.formatting import register_filters


def init_pages(app: Flask) -> None:
    settings: Settings = app.extensions["gradewatch.settings"]
    app.config.update(
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        # The download buttons post a result's rows back in a form field (downloads.py); they
        # are bounded like an upload, not by Flask's 500 kB default for form fields.
        MAX_FORM_MEMORY_SIZE=settings.max_upload_bytes,
    )
    register_filters(app)
    app.register_blueprint(pages)
