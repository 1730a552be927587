"""The champion model the app serves, for the API and the pages alike."""

from __future__ import annotations

from flask import current_app

from gradewatch.models.registry import LoadedModel, ModelUnavailableError
from webapp.errors import ApiError


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
