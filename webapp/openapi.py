"""The OpenAPI 3 document of the HTTP API, served at ``GET /openapi.json``."""

from __future__ import annotations

from typing import Any

from gradewatch import schema
from gradewatch.reports import REPORT_COLUMN_MEANINGS

_ERROR = {"$ref": "#/components/schemas/Error"}

# A CSV answer of POST /predict has no room for the rows left out, so its X-Rejected-Rows
# header lists their numbers (never a value), this many at most; the JSON answer gives reasons.
MAX_ROWS_IN_HEADER = 100


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


# The one rule between two fields that JSON Schema cannot state: the semester ends after it
# starts. Said in words, and as an extension a client (or a test generator) can read.
_END_AFTER_START = {"description": "ISO date (YYYY-MM-DD), after start_date_period",
                    "x-after": "start_date_period"}
_DATES = {"start_date_period": {"type": "string", "format": "date", "description": "ISO date (YYYY-MM-DD)",
                                "example": "2026-01-12"},
          "end_date_period": {"type": "string", "format": "date", **_END_AFTER_START, "example": "2026-06-30"}}

# What a CSV body must look like to be read: a header naming GradeWatch columns (here the
# canonical ones) and rows of values. The server reads much more (aliases, delimiters,
# encodings: see the README); a body it cannot read at all is a 400.
_CSV_HEADER = ",".join((schema.USER_ID, *schema.FEATURES))
_CSV_ROW = r"[A-Za-z0-9]{1,12},(F|M|female|male|other|),[0-9]{1,2},[0-9]{1,2},[0-9]{1,2},[0-9],(low|medium|high|)"
CSV_TEXT = {"type": "string", "pattern": rf"^{_CSV_HEADER}\r?\n({_CSV_ROW}\r?\n){{1,5}}$",
            "example": f"{_CSV_HEADER}\nS1234,F,92,10,81,1,high\n",
            "description": "CSV text: a header line naming GradeWatch columns, then one line per student"}
_CSV_FILE_PART = {"file": {"contentType": "text/csv"}}


def _period_params() -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": True, "schema": _DATES[name], "example": example}
        for name, example in (("start_date_period", "2026-01-12"), ("end_date_period", "2026-06-30"))
    ]


def _prediction_schema() -> dict[str, Any]:
    number = {"type": "number"}
    return {
        "type": "object",
        "properties": {
            "row": {"type": "integer"},
            "user_id": {"type": "string"},
            "predicted_grade": number,
            "interval_lower": number,
            "interval_upper": number,
            "probability_below_pass": number,
            "at_risk": {"type": "boolean"},
            "model_version": {"type": "string"},
        },
    }


def _report_columns() -> str:
    return "; ".join(f"`{name}`: {meaning}" for name, meaning in REPORT_COLUMN_MEANINGS.items()) + "."


def _history_params() -> list[dict[str, Any]]:
    def param(name: str, description: str, schema_: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema_}

    date_ = {"type": "string", "format": "date"}
    return [
        param("start_date_period", "the semester's start (with end_date_period)", date_),
        param("end_date_period", "the semester's end (with start_date_period)", date_),
        param("user_id", "one student", {"type": "string"}),
        param("from", "predictions made on or after this day (UTC)", date_),
        {**param("to", "predictions made on or before this day (UTC), not before from", date_), "x-after": "from"},
        param("role", "champion or shadow (default: both)", {"type": "string", "enum": ["champion", "shadow"]}),
        param("limit", "page size, 1 to 1000 (default 100)", {"type": "integer", "minimum": 1, "maximum": 1000}),
        param("offset", "rows to skip (next_offset of the previous page)", {"type": "integer", "minimum": 0}),
    ]


def _history_schema() -> dict[str, Any]:
    number, text = {"type": "number"}, {"type": "string"}
    reason = {"type": "object", "properties": {
        "feature": text, "value": {"nullable": True}, "typical": {}, "effect": number,
        "actionable": {"type": "boolean"}}}
    prediction = {"type": "object", "properties": {
        "start_date_period": {"type": "string", "format": "date"},
        "end_date_period": {"type": "string", "format": "date"},
        "user_id": text, "model_version": text, "role": {"type": "string", "enum": ["champion", "shadow"]},
        "predicted_grade": number, "interval_lower": number, "interval_upper": number,
        "probability_below_pass": number, "at_risk": {"type": "boolean"},
        "reasons": {"type": "array", "nullable": True, "items": reason,
                    "description": "up to three indicators that lower the predicted grade most"},
        "predicted_at": {"type": "string", "format": "date-time"}}}
    return {"type": "object", "properties": {
        "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
        "next_offset": {"type": "integer", "nullable": True}, "predictions": {"type": "array", "items": prediction}}}
def _record_schema() -> dict[str, Any]:
    """One student as JSON: a user_id and the features (a missing one may be null or left out)."""
    number = {"type": "number", "minimum": 0, "maximum": 168, "nullable": True}
    properties: dict[str, Any] = {schema.USER_ID: {"type": "string", "pattern": "^[A-Za-z0-9]{1,12}$"}}
    for name in schema.FEATURES:
        spec = schema.CATEGORICAL_BY_NAME.get(name)
        properties[name] = ({"type": "string", "enum": list(spec.categories), "nullable": True}
                            if spec else number)
    return {"type": "object", "required": [schema.USER_ID], "properties": properties,
            "example": {schema.USER_ID: "S1234", "gender": "female", "attendance_rate": 92,
                        "study_hours_per_week": 10, "previous_grade": 81,
                        "extracurricular_activities_count": 1, "parental_support": "high"}}


def openapi_document() -> dict[str, Any]:
    upload_form = {
        "type": "object",
        "required": ["file", "start_date_period", "end_date_period"],
        "properties": {"file": CSV_TEXT, **_DATES},
        "example": {"file": CSV_TEXT["example"], "start_date_period": "2026-01-12",
                    "end_date_period": "2026-06-30"},
    }
    upload_result = {
        "type": "object",
        "properties": {
            "semester": {"type": "string"},
            "mode": {"type": "string", "enum": ["reports", "final_grades"]},
            "received": {"type": "integer"},
            "inserted": {"type": "integer"},
            "updated": {"type": "integer"},
            "unchanged": {"type": "integer"},
            "cells_kept": {"type": "integer", "description": "empty cells of the file whose stored "
                           "value was kept: an empty cell never erases a stored value"},
            "rejected": {"type": "integer"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/RowError"}},
            "dropped_columns": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "array", "items": {"$ref": "#/components/schemas/RowError"}},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "GradeWatch API",
            "version": "1.0.0",
            "description": "Upload semester CSV exports, download the report of students at risk, "
            "and score rows with the current model. Only user_id is ever stored.",
        },
        "paths": {
            "/update-csv": {"post": {
                "summary": "Upload a semester's student reports or final grades",
                "security": [{"bearer": ["upload"]}],
                "requestBody": {"required": True,
                                "content": {"multipart/form-data": {"schema": upload_form,
                                                                    "encoding": _CSV_FILE_PART}}},
                "responses": {
                    "200": {"description": "Stored; row errors listed",
                            "content": {"application/json": {"schema": upload_result}}},
                    "400": _error("Missing field, bad dates, unreadable file or missing column; "
                                  "nothing stored"),
                    "401": _error("No valid token"),
                    "403": _error("Token lacks the upload scope"),
                    "413": _error("File larger than GRADEWATCH_MAX_UPLOAD_MB"),
                    "503": _error("Other uploads held the database longer than "
                                  "GRADEWATCH_UPLOAD_WAIT_SECONDS; nothing stored, send it again"),
                },
            }},
            "/get-report": {"get": {
                "summary": "Download the semester's predictions for students without a final grade",
                "security": [{"bearer": ["report"]}],
                "parameters": _period_params(),
                "responses": {
                    "200": {"description": "CSV attachment, riskiest students first. Columns: the "
                                           "semester's uploaded columns, then " + _report_columns(),
                            "content": {"text/csv": {"schema": {"type": "string"}}}},
                    "400": _error("Bad or missing dates"),
                    "401": _error("No valid token"),
                    "403": _error("Token lacks the report scope"),
                    "404": _error("report for the given period is not ready"),
                },
            }},
            "/history": {"get": {
                "summary": "Past predictions, newest first, paged; name a semester or a user_id",
                "security": [{"bearer": ["report"]}],
                # The rule JSON Schema cannot state for query parameters: one of these groups is given whole.
                "x-requires-one-of": [["start_date_period", "end_date_period"], ["user_id"]],
                "parameters": _history_params(),
                "responses": {
                    "200": {"description": "One page of predictions",
                            "content": {"application/json": {"schema": _history_schema()}}},
                    "400": _error("Neither a semester nor a user_id, or a bad filter"),
                    "401": _error("No valid token"),
                    "403": _error("Token lacks the report scope"),
                },
            }},
            "/predict": {"post": {
                "summary": "Score rows with the current model; nothing is stored",
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                       "properties": {"file": CSV_TEXT}},
                                            "encoding": _CSV_FILE_PART},
                    "text/csv": {"schema": CSV_TEXT},
                    "application/json": {"schema": {"type": "array", "minItems": 1, "maxItems": 50,
                                                     "items": _record_schema()}},
                }},
                "responses": {
                    "200": {"description": "One prediction per valid row (CSV or JSON per Accept). "
                                           "A CSV answer's headers count the rows and list the rejected "
                                           "ones' numbers (the JSON answer gives each reason).",
                            "headers": {name: {"schema": {"type": "string"}, "description": text} for name, text in (
                                ("X-Model-Version", "the model that scored the rows (CSV answer)"),
                                ("X-Rows-Received", "data rows read (CSV answer)"),
                                ("X-Rows-Predicted", "rows scored (CSV answer)"),
                                ("X-Rows-Rejected", "rows left out, each with a row error (CSV answer)"),
                                ("X-Rejected-Rows", f"their spreadsheet row numbers, the first {MAX_ROWS_IN_HEADER} "
                                                    "(CSV answer)"),
                            )},
                            "content": {
                                "application/json": {"schema": {"type": "object", "properties": {
                                    "model_version": {"type": "string"},
                                    "predictions": {"type": "array", "items": _prediction_schema()},
                                    "errors": {"type": "array",
                                               "items": {"$ref": "#/components/schemas/RowError"}},
                                    "dropped_columns": {"type": "array", "items": {"type": "string"}},
                                }}},
                                "text/csv": {"schema": {"type": "string"}},
                            }},
                    "400": _error("Unreadable input"),
                    "413": _error("Input larger than GRADEWATCH_MAX_PREDICT_MB"),
                    "503": _error("No model has been trained yet"),
                },
            }},
            "/health": {"get": {
                "summary": "Database and model status",
                "responses": {"200": {"description": "Healthy",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "503": {"description": "Database unreachable",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
            "/model": {"get": {
                "summary": "The champion model: version, training time and metrics",
                "responses": {"200": {"description": "Champion model",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "404": _error("No model has been trained yet")},
            }},
            "/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
            "/": {"get": {
                "summary": "Web pages for registrars and teachers",
                "responses": {"200": {"description": "HTML page",
                                      "content": {"text/html": {"schema": {"type": "string"}}}}},
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Token from 'gradewatch token create'"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}}},
                "RowError": {"type": "object", "properties": {
                    "row": {"type": "integer", "description": "Spreadsheet row; the header is row 1"},
                    "column": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                }},
            },
        },
    }
