"""The one ingestion path: ``POST /update-csv``, the upload page and the inbox sensor all call
:func:`ingest_csv`.

A file is parsed (PII dropped at the header), validated, and merged into ``student_reports``
together with its ``uploads`` audit row in ONE transaction: either everything lands or nothing
does. A file refused as a whole raises :class:`UploadRejected` and stores nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from gradewatch import schema
from gradewatch.intake.reader import ROW, CsvRejected, ParsedCsv, RowError, read_csv_bytes
from gradewatch.monitoring import summaries
from gradewatch.semesters import Period, PeriodError, other_dates
from gradewatch.settings import Settings
from gradewatch.storage.db import StorageBusy, run_in_transaction, utcnow, writer_turn
from gradewatch.storage.reports import MergeCounts, update_final_grades, upsert_reports
from gradewatch.storage.semesters import lock_semester, record_semester_change
from gradewatch.storage.uploads import already_ingested, record_upload

DEFAULT_UPLOAD_WAIT_SECONDS = Settings.upload_wait_seconds
MODE_REPORTS = "reports"
MODE_FINAL_GRADES = "final_grades"
REQUIRED_REPORT_COLUMNS = (schema.USER_ID, *schema.FEATURES)


class UploadRejected(ValueError):
    """The upload as a whole cannot be used; nothing was stored. The message says why."""


class AlreadyIngested(Exception):
    """This very content was already ingested for this semester from this source; nothing stored."""


@dataclass
class IngestResult:
    period: Period
    mode: str
    received: int
    inserted: int
    updated: int
    unchanged: int
    errors: list[RowError]
    dropped_columns: list[str]
    content_sha256: str
    upload_id: int | None = None
    cells_kept: int = 0
    rejected_row_numbers: list[int] = field(default_factory=list)
    notes: list[RowError] = field(default_factory=list)  # kept rows with a remark (never a value)

    @property
    def rejected(self) -> int:
        return len(self.rejected_row_numbers)

    def to_dict(self) -> dict[str, object]:
        return {
            "semester": self.period.key,
            "mode": self.mode,
            "received": self.received,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "cells_kept": self.cells_kept,
            "rejected": self.rejected,
            "errors": [e.to_dict() for e in self.errors],
            "dropped_columns": self.dropped_columns,
            "notes": [n.to_dict() for n in self.notes],
        }

    def log_fields(self) -> dict[str, object]:
        """The fields of an upload's log record: counts only, never a row value."""
        return {"semester": self.period.key, "rows_received": self.received, "rows_inserted": self.inserted,
                "rows_updated": self.updated, "rows_rejected": self.rejected, "upload_mode": self.mode}


def parse_period(start: str | None, end: str | None) -> Period:
    """The semester of an upload from its two form fields, or UploadRejected saying what is wrong."""
    from gradewatch.intake.reader import parse_iso_date

    try:
        return Period(parse_iso_date(start, "start_date_period"), parse_iso_date(end, "end_date_period"))
    except (CsvRejected, PeriodError) as exc:
        raise UploadRejected(str(exc)) from exc


def ingest_csv(
    engine: Engine,
    raw: bytes,
    period: Period,
    *,
    source: str,
    token_name: str | None = None,
    once: bool = False,
    user_id_pattern: str = schema.DEFAULT_USER_ID_PATTERN,
    wait_seconds: float = DEFAULT_UPLOAD_WAIT_SECONDS,
) -> IngestResult:
    """Parse, validate and store one uploaded file for ``period``.

    ``user_id_pattern`` is ``GRADEWATCH_USER_ID_PATTERN`` (see :func:`read_csv_bytes`).
    Queues behind other uploads for at most ``wait_seconds``, then raises StorageBusy.
    With ``once``, content already ingested for ``period`` from ``source`` raises
    :class:`AlreadyIngested`; the check runs inside the transaction, under the semester's lock,
    so two attempts at the same file (a retried sensor, a re-run) cannot both store it.
    """
    with writer_turn(engine, wait_seconds) as wait_left:  # SQLite: after this process's earlier writers
        try:
            return _ingest(engine, raw, period, source=source, token_name=token_name, once=once,
                           user_id_pattern=user_id_pattern, wait_seconds=wait_left)
        except StorageBusy:
            raise StorageBusy(wait_seconds) from None  # the whole wait, as the registrar set it


def _ingest(engine: Engine, raw: bytes, period: Period, *, source: str, token_name: str | None, once: bool,
            user_id_pattern: str, wait_seconds: float) -> IngestResult:
    try:
        parsed = read_csv_bytes(raw, user_id_pattern)
    except CsvRejected as exc:
        raise UploadRejected(str(exc)) from exc
    mode = _mode(parsed)
    errors = list(parsed.errors)
    frame = _rows_of_period(parsed.frame, period, errors)
    if mode == MODE_FINAL_GRADES:
        frame = _with_grades(frame, errors)
    frame = _last_row_per_student(frame, errors)
    digest = hashlib.sha256(raw).hexdigest()

    def store(conn: Connection) -> IngestResult:
        now = utcnow()
        lock_semester(conn, period, now)  # first: concurrent uploads to one semester recount in order
        if once and already_ingested(conn, digest, period, source):
            raise AlreadyIngested(f"this exact content was already ingested for {period.key}")
        unknown: list[int] = []
        if mode == MODE_REPORTS:
            counts = upsert_reports(conn, period, frame, now)
        else:
            counts, unknown = update_final_grades(conn, period, frame, now)
        if counts.inserted or counts.updated:
            record_semester_change(conn, period, now)
        all_errors = errors + [
            RowError(r, schema.USER_ID, "no student with this user_id in this semester; "
                     "upload the student's report before their final grade")
            for r in unknown
        ]
        all_errors.sort(key=lambda e: e.row)
        result = _result(parsed, period, mode, counts, all_errors, digest)
        result.upload_id = record_upload(
            conn,
            period=period,
            source=source,
            token_name=token_name,
            mode=mode,
            content_sha256=digest,
            counts={"received": result.received, "inserted": result.inserted, "updated": result.updated,
                    "unchanged": result.unchanged, "rejected": result.rejected},
            dropped_columns=parsed.dropped_columns,
            now=now,
        )
        return result

    result = run_in_transaction(engine, store, wait_seconds=wait_seconds)
    # Logged once the upload is committed: one record per accepted upload, whatever its door.
    summaries.emit(summaries.UPLOAD, summaries.upload_summary(
        result.log_fields(), source=source, token_name=token_name, unchanged=result.unchanged,
        dropped_columns=len(result.dropped_columns), error_columns=[e.column for e in result.errors]))
    return result


def _mode(parsed: ParsedCsv) -> str:
    present = set(parsed.columns)
    missing = [c for c in REQUIRED_REPORT_COLUMNS if c not in present]
    if not missing:
        return MODE_REPORTS
    if {schema.USER_ID, schema.FINAL_GRADE} <= present:
        return MODE_FINAL_GRADES
    raise UploadRejected(
        "The file is missing the required column(s) "
        + ", ".join(missing)
        + ". A student report needs " + ", ".join(REQUIRED_REPORT_COLUMNS)
        + "; a final-grades file needs user_id and final_grade. Check the column names in the "
        "first line (see the alias table in the README)."
    )


def _rows_of_period(frame: pd.DataFrame, period: Period, errors: list[RowError]) -> pd.DataFrame:
    """Rows that repeat the period in their own columns must match the form's period."""
    present = [c for c in (schema.START, schema.END) if c in frame.columns]
    if not present:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    for column, expected in ((schema.START, period.start), (schema.END, period.end)):
        if column in frame.columns:
            wrong = other_dates(frame[column], expected)
            errors.extend(
                RowError(int(r), column, f"this row belongs to another semester than {period.key}")
                for r in frame[ROW].to_numpy()[wrong]
            )
            keep &= ~wrong
    return (frame if keep.all() else frame.loc[keep]).drop(columns=present)


def _with_grades(frame: pd.DataFrame, errors: list[RowError]) -> pd.DataFrame:
    empty = frame[schema.FINAL_GRADE].isna()
    errors.extend(RowError(int(r), schema.FINAL_GRADE, "final_grade is empty; nothing to update")
                  for r in frame.loc[empty, ROW])
    return frame.loc[~empty, [ROW, schema.USER_ID, schema.FINAL_GRADE]]


def _last_row_per_student(frame: pd.DataFrame, errors: list[RowError]) -> pd.DataFrame:
    """A student listed twice in one file: the later row wins, the earlier one is reported."""
    duplicated = frame[schema.USER_ID].duplicated(keep="last").to_numpy()
    if not duplicated.any():
        return frame
    last_row = frame.drop_duplicates(schema.USER_ID, keep="last").set_index(schema.USER_ID)[ROW]
    for row, user_id in frame.loc[duplicated, [ROW, schema.USER_ID]].itertuples(index=False):
        errors.append(RowError(int(row), schema.USER_ID,
                               f"the same student appears again on row {int(last_row[user_id])}; "
                               "that later row was kept"))
    return frame.loc[~duplicated]


def _result(parsed: ParsedCsv, period: Period, mode: str, counts: MergeCounts,
            errors: list[RowError], digest: str) -> IngestResult:
    return IngestResult(
        period=period,
        mode=mode,
        received=parsed.rows_received,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        errors=errors,
        dropped_columns=parsed.dropped_columns,
        content_sha256=digest,
        rejected_row_numbers=sorted({e.row for e in errors}),
        cells_kept=counts.cells_kept,
        notes=parsed.notes,
    )
