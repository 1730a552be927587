"""The HTTP API of SPEC section 5: thin views over ``gradewatch`` core functions."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from gradewatch.intake.csv_safety import iter_csv
from gradewatch.intake.ingest import UploadRejected, ingest_csv, parse_period
from gradewatch.intake.reader import CsvRejected, ParsedCsv, read_csv_bytes, read_records
from gradewatch.models.registry import champion_record
from gradewatch.models.scoring import OUTPUT_COLUMNS, score_rows
from gradewatch.semesters import Period
from gradewatch.storage.health import database_status
from gradewatch.storage.reports import REPORT_HEADER, iter_report, report_ready
from webapp.auth import require_scope
from webapp.champion import require_champion
from webapp.context import get_engine, get_settings
from webapp.errors import ApiError
from webapp.openapi import openapi_document

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)



def uploaded_file_bytes() -> bytes:
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "Attach the CSV file in the multipart form field 'file'.")
    return upload.read()


@api.post("/update-csv")
@require_scope("upload")
def update_csv() -> Response:
    try:
        period = parse_period(request.form.get("start_date_period"), request.form.get("end_date_period"))
        raw = uploaded_file_bytes()
        result = ingest_csv(get_engine(), raw, period, source="api", token_name=g.get("token_name"))
    except UploadRejected as exc:
        raise ApiError(400, str(exc)) from exc
    g.log_fields = result.log_fields()
    log.info("upload stored", extra=g.log_fields)
    return jsonify(result.to_dict())


def _period_from_query() -> Period:
    try:
        return parse_period(request.args.get("start_date_period"), request.args.get("end_date_period"))
    except UploadRejected as exc:
        raise ApiError(400, str(exc)) from exc


@api.get("/get-report")
@require_scope("report")
def get_report() -> Response:
    period = _period_from_query()
    engine = get_engine()
    if not report_ready(engine, period):
        raise ApiError(404, "report for the given period is not ready")
    rows = ([row[c] for c in REPORT_HEADER] for row in iter_report(engine, period))
    return Response(
        stream_with_context(iter_csv(REPORT_HEADER, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="gradewatch-report-{period.key}.csv"'},
    )


def _predict_input() -> ParsedCsv:
    try:
        if request.files.get("file") is not None:
            return read_csv_bytes(request.files["file"].read())
        if request.mimetype == "application/json":
            records = request.get_json(silent=True)
            if not isinstance(records, list):
                raise CsvRejected("Send a JSON list of objects, one per student.")
            return read_records(records)
        if request.mimetype in ("text/csv", "text/plain", "application/csv"):
            return read_csv_bytes(request.get_data())
    except CsvRejected as exc:
        raise ApiError(400, str(exc)) from exc
    raise ApiError(400, "Send a CSV file (multipart field 'file' or a text/csv body) "
                        "or a JSON list of student records.")


@api.post("/predict")
def predict() -> Response:
    parsed = _predict_input()
    loaded = require_champion()
    scored = score_rows(parsed.frame, loaded, get_settings().pass_mark)
    errors = sorted([*parsed.errors, *scored.errors], key=lambda e: e.row)
    g.log_fields = {"rows_received": parsed.rows_received, "rows_predicted": len(scored.predictions),
                    "model_version": loaded.version}
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        rows = scored.predictions.itertuples(index=False, name=None)
        return Response(iter_csv(OUTPUT_COLUMNS, rows), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="predictions.csv"'})
    return jsonify({
        "model_version": loaded.version,
        "predictions": scored.predictions.to_dict("records"),
        "errors": [e.to_dict() for e in errors],
        "dropped_columns": parsed.dropped_columns,
    })


@api.get("/model")
def model() -> Response:
    record = champion_record(get_engine())
    if record is None:
        raise ApiError(404, "No model has been trained yet.")
    return jsonify({
        "version": record.version,
        "algorithm": record.algorithm,
        "trained_at": record.trained_at.isoformat(),
        "promoted_at": record.promoted_at.isoformat() if record.promoted_at else None,
        "training_semesters": record.training_semesters,
        "metrics": record.metrics,
    })


@api.get("/health")
def health() -> Response:
    status = database_status(get_engine())
    response = jsonify(status)
    response.status_code = 200 if status["database"]["ok"] else 503
    return response


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
