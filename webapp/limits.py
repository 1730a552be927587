"""How large a request body may be, per address, and what a client is told when it is larger.

Uploads need a token and may be large (``GRADEWATCH_MAX_UPLOAD_MB``). The prediction endpoints
need none, so they get their own, smaller limit (``GRADEWATCH_MAX_PREDICT_MB``): an anonymous
client cannot make the server hold an upload's worth of memory per request. The same limits
and messages are applied by Flask and, before the app sees a byte, by waitress
(``webapp.server``).
"""

from __future__ import annotations

from gradewatch.settings import Settings

PREDICT_PATHS = frozenset({"/predict", "/predict-csv"})  # the endpoints anyone may call


def body_limit(settings: Settings, path: str) -> int:
    """The largest body, in bytes, accepted for a request to ``path``."""
    return settings.max_predict_bytes if path in PREDICT_PATHS else settings.max_upload_bytes


def too_large_message(settings: Settings, path: str) -> str:
    if path in PREDICT_PATHS:
        return (f"The request is larger than the {settings.max_predict_mb:g} MB limit for predictions "
                "(GRADEWATCH_MAX_PREDICT_MB). Split the file into smaller ones, or ask IT to raise "
                "the limit.")
    return (f"The upload is larger than the {settings.max_upload_mb:g} MB limit (GRADEWATCH_MAX_UPLOAD_MB). "
            "Split the file, or ask IT to raise the limit.")
