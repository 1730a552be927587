"""Access to the app's settings, engine and champion model from inside a request."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.engine import Engine

from gradewatch.models.registry import LoadedModel, ModelUnavailableError
from gradewatch.settings import Settings
from webapp.errors import ApiError


def get_settings() -> Settings:
    return current_app.extensions["gradewatch.settings"]


def get_engine() -> Engine:
    return current_app.extensions["gradewatch.engine"]


def require_champion() -> LoadedModel:
    """The champion the app serves, or a 503 that says why there is none."""
    try:
        loaded = current_app.extensions["gradewatch.champion"].get()
    except ModelUnavailableError as exc:
        raise ApiError(503, "The current model cannot be loaded; the ML engineer has been alerted. "
                            f"({exc})") from exc
    if loaded is None:
        raise ApiError(503, "No model has been trained yet: predictions start once a semester's "
                            "final grades have been uploaded and processed.")
    return loaded
