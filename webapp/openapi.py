"""The OpenAPI 3 document of the HTTP API, served at ``GET /openapi.json``."""

from __future__ import annotations

from typing import Any

from gradewatch import schema

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _period_params() -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": True,
         "schema": {"type": "string", "format": "date"}, "example": example}
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


def openapi_document() -> dict[str, Any]:
    upload_form = {
        "type": "object",
        "required": ["file", "start_date_period", "end_date_period"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "CSV: comma, semicolon or tab; UTF-8 or Latin-1."},
            "start_date_period": {"type": "string", "format": "date"},
            "end_date_period": {"type": "string", "format": "date"},
        },
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
            "rejected": {"type": "integer"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/RowError"}},
            "dropped_columns": {"type": "array", "items": {"type": "string"}},
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
                                "content": {"multipart/form-data": {"schema": upload_form}}},
                "responses": {
                    "200": {"description": "Stored; row errors listed",
                            "content": {"application/json": {"schema": upload_result}}},
                    "400": _error("Missing field, bad dates, unreadable file or missing column; "
                                  "nothing stored"),
                    "401": _error("No valid token"),
                    "403": _error("Token lacks the upload scope"),
                    "413": _error("File larger than GRADEWATCH_MAX_UPLOAD_MB"),
                },
            }},
            "/get-report": {"get": {
                "summary": "Download the semester's predictions for students without a final grade",
                "security": [{"bearer": ["report"]}],
                "parameters": _period_params(),
                "responses": {
                    "200": {"description": "CSV attachment, riskiest students first",
                            "content": {"text/csv": {"schema": {"type": "string"}}}},
                    "400": _error("Bad or missing dates"),
                    "401": _error("No valid token"),
                    "403": _error("Token lacks the report scope"),
                    "404": _error("report for the given period is not ready"),
                },
            }},
            "/predict": {"post": {
                "summary": "Score rows with the current model; nothing is stored",
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}}}},
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "array", "items": {
                        "type": "object", "additionalProperties": True,
                        "example": {c: None for c in (schema.USER_ID, *schema.FEATURES)}}}},
                }},
                "responses": {
                    "200": {"description": "One prediction per valid row (CSV or JSON per Accept)",
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
                    "413": _error("Input too large"),
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
