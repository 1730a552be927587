"""The predict page: anyone scores a CSV with the current model; nothing is stored.

It runs the core of ``POST /predict``: the same reader, the same champion (``require_champion``
and its messages) and :func:`gradewatch.models.scoring.score_rows`. The predictions reach the user
through the page and its download button only (see downloads.py).
"""

from __future__ import annotations

from flask import current_app, render_template, request
from werkzeug.wrappers import Response

from gradewatch.intake.reader import CsvRejected, read_csv_bytes
from gradewatch.models.registry import ModelUnavailableError
from gradewatch.models.scoring import OUTPUT_COLUMNS, score_rows
from webapp.champion import require_champion
from webapp.context import get_settings
from webapp.errors import ApiError
from webapp.pages.blueprint import pages
from webapp.pages.downloads import posted_csv, table_payload

PREVIEW_ROWS = 10


def _model_available() -> bool:
    try:
        return current_app.extensions["gradewatch.champion"].get() is not None
    except ModelUnavailableError:
        return False


def _form_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("pages/predict.html", error=error, model_ready=_model_available()), status


@pages.get("/predict-csv")
def predict_page() -> tuple[str, int]:
    return _form_page()


@pages.post("/predict-csv")
def predict_post() -> tuple[str, int]:
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _form_page("Choose the CSV file to score.", 400)
    try:
        parsed = read_csv_bytes(upload_file.read(), get_settings().user_id_pattern)
        loaded = require_champion()
    except CsvRejected as exc:
        return _form_page(str(exc), 400)
    except ApiError as exc:
        return _form_page(exc.message, exc.status)
    scored = score_rows(parsed.frame, loaded, get_settings().pass_mark)
    errors = sorted([*parsed.errors, *scored.errors], key=lambda e: e.row)
    rows = scored.predictions.to_dict("split")["data"]  # plain Python values, for JSON
    html = render_template(
        "pages/predict_result.html",
        model_version=loaded.version, received=parsed.rows_received, predicted=len(rows),
        errors=errors, dropped_columns=parsed.dropped_columns, columns=OUTPUT_COLUMNS,
        preview=rows[:PREVIEW_ROWS], payload=table_payload(OUTPUT_COLUMNS, rows),
        pass_mark=get_settings().pass_mark,
    )
    return html, 200


@pages.post("/predict-csv/predictions.csv")
def predictions_csv() -> Response:
    return posted_csv("predictions.csv")
