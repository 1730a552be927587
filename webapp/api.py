"""The HTTP API of SPEC section 5: thin views over ``gradewatch`` core functions."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from gradewatch.intake.csv_safety import iter_csv
from gradewatch.intake.ingest import UploadRejected, ingest_csv, parse_period
from gradewatch.intake.reader import CsvRejected, ParsedCsv, RowError, read_csv_bytes, read_records
from gradewatch.models.scoring import OUTPUT_COLUMNS, score_rows
from gradewatch.models.standing import model_standing
from gradewatch.reports import REPORT_HEADER, report_rows
from gradewatch.semesters import Period
from gradewatch.storage.health import database_status
from gradewatch.storage.history import HistoryQuery, prediction_history
from gradewatch.storage.reports import report_ready
from webapp.auth import require_scope
from webapp.champion import require_champion
from webapp.context import get_engine, get_settings
from webapp.errors import ApiError
from webapp.openapi import MAX_ROWS_IN_HEADER, openapi_document

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)

HISTORY_PAGE_SIZE = 100  # default and ...
HISTORY_MAX_PAGE_SIZE = 1000  # ... largest ``limit`` of GET /history
HISTORY_ROLES = ("champion", "shadow")


def form_file_bytes() -> bytes | None:
    """The multipart part 'file': a file, or text sent without a file name (curl -F 'file=<x.csv')."""
    upload = request.files.get("file")
    if upload is not None:
        return upload.read()
    text = request.form.get("file")
    return None if text is None else text.encode("utf-8")


def uploaded_file_bytes() -> bytes:
    raw = form_file_bytes()
    if raw is None:
        raise ApiError(400, "Attach the CSV file in the multipart form field 'file'.")
    return raw


@api.post("/update-csv")
@require_scope("upload")
def update_csv() -> Response:
    try:
        period = parse_period(request.form.get("start_date_period"), request.form.get("end_date_period"))
        raw = uploaded_file_bytes()
        result = ingest_csv(get_engine(), raw, period, source="api", token_name=g.get("token_name"),
                            wait_seconds=get_settings().upload_wait_seconds,
                            user_id_pattern=get_settings().user_id_pattern)
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
    rows = report_rows(engine, period, get_settings().risk_tiers)
    return Response(
        stream_with_context(iter_csv(REPORT_HEADER, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="gradewatch-report-{period.key}.csv"'},
    )


def _history_query() -> HistoryQuery:
    args = request.args
    start, end = args.get("start_date_period"), args.get("end_date_period")
    user_id = (args.get("user_id") or "").strip() or None
    period = _period_from_query() if start or end else None
    if period is None and user_id is None:
        raise ApiError(400, "A history query must name a semester (start_date_period and end_date_period) "
                            "or a user_id.")
    role = args.get("role") or None
    if role is not None and role not in HISTORY_ROLES:
        raise ApiError(400, f"role must be one of {', '.join(HISTORY_ROLES)}, got {role!r}.")
    try:
        since = date.fromisoformat(args["from"]) if args.get("from") else None
        until = date.fromisoformat(args["to"]) if args.get("to") else None
    except ValueError as exc:
        raise ApiError(400, "from and to must be ISO dates such as 2026-03-01.") from exc
    if since and until and since > until:
        raise ApiError(400, f"from ({since.isoformat()}) is after to ({until.isoformat()}); were they swapped?")
    # Dates name whole days: ``to`` includes its day.
    return HistoryQuery(period, user_id,
                        datetime.combine(since, time.min, UTC) if since else None,
                        datetime.combine(until + timedelta(days=1), time.min, UTC) if until else None,
                        role)


def _page_numbers() -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", HISTORY_PAGE_SIZE))
        offset = int(request.args.get("offset", 0))
    except ValueError as exc:
        raise ApiError(400, "limit and offset must be whole numbers.") from exc
    if not 1 <= limit <= HISTORY_MAX_PAGE_SIZE or offset < 0:
        raise ApiError(400, f"limit must be between 1 and {HISTORY_MAX_PAGE_SIZE}, offset 0 or more.")
    return limit, offset


@api.get("/history")
@require_scope("report")
def history() -> Response:
    query = _history_query()
    limit, offset = _page_numbers()
    rows, total = prediction_history(get_engine(), query, limit=limit, offset=offset)
    for row in rows:
        for key in ("start_date_period", "end_date_period", "predicted_at"):
            row[key] = row[key].isoformat()
    following = offset + len(rows)
    return jsonify({"total": total, "limit": limit, "offset": offset,
                    "next_offset": following if following < total else None, "predictions": rows})


def _predict_input() -> ParsedCsv:
    pattern = get_settings().user_id_pattern
    try:
        if request.mimetype == "multipart/form-data" and (raw := form_file_bytes()) is not None:
            return read_csv_bytes(raw, pattern)
        if request.mimetype == "application/json":
            records = _json_body()
            if not isinstance(records, list):
                raise CsvRejected("Send a JSON list of objects, one per student.")
            return read_records(records, pattern)
        if request.mimetype in ("text/csv", "text/plain", "application/csv"):
            return read_csv_bytes(request.get_data(), pattern)
    except CsvRejected as exc:
        raise ApiError(400, str(exc)) from exc
    raise ApiError(400, "Send a CSV file (multipart field 'file' or a text/csv body) "
                        "or a JSON list of student records.")


def _json_body() -> object:
    """The parsed JSON body, or None when it is not JSON."""
    try:
        return request.get_json(silent=True)
    except RecursionError as exc:
        # json.loads recurses once per level: "[[[[..." 100,000 deep exhausts the stack.
        raise CsvRejected("The JSON body is nested too deeply: send a flat list of objects, "
                          "one per student.") from exc



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
                        headers={"Content-Disposition": 'attachment; filename="predictions.csv"',
                                 **_prediction_headers(loaded.version, parsed.rows_received,
                                                       len(scored.predictions), errors)})
    return jsonify({
        "model_version": loaded.version,
        "predictions": scored.predictions.to_dict("records"),
        "errors": [e.to_dict() for e in errors],
        "dropped_columns": parsed.dropped_columns,
    })


def _prediction_headers(version: str, received: int, predicted: int, errors: list[RowError]) -> dict[str, str]:
    """A CSV answer's counts and the rejected rows' numbers (row errors never hold a value)."""
    rejected = sorted({e.row for e in errors})
    listed = ",".join(str(r) for r in rejected[:MAX_ROWS_IN_HEADER])
    if len(rejected) > MAX_ROWS_IN_HEADER:
        listed += f" and {len(rejected) - MAX_ROWS_IN_HEADER} more"
    return {"X-Model-Version": version, "X-Rows-Received": str(received), "X-Rows-Predicted": str(predicted),
            "X-Rows-Rejected": str(len(rejected)), "X-Rejected-Rows": listed}


@api.get("/model")
def model() -> Response:
    standing = model_standing(get_engine(), get_settings())
    record = standing.champion
    if record is None:
        raise ApiError(404, "No model has been trained yet.")
    return jsonify({
        **standing.to_dict(),
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
