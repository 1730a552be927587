"""Access to the app's settings and engine from inside a request."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.engine import Engine

from gradewatch.settings import Settings


def get_settings() -> Settings:
    return current_app.extensions["gradewatch.settings"]


def get_engine() -> Engine:
    return current_app.extensions["gradewatch.engine"]
