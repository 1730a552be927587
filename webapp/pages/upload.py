"""The upload page: the same :func:`gradewatch.intake.ingest.ingest_csv` as ``POST /update-csv``."""

from __future__ import annotations

import logging

from flask import g, render_template, request
from werkzeug.wrappers import Response

from gradewatch.intake.ingest import UploadRejected, ingest_csv, parse_period
from gradewatch.intake.rejected_rows import rejected_rows
from gradewatch.storage.db import StorageBusy
from webapp.context import get_engine, get_settings
from webapp.pages.blueprint import pages
from webapp.pages.downloads import posted_csv, table_payload
from webapp.pages.security import current_user, signed_in

log = logging.getLogger(__name__)
MAX_ERRORS_SHOWN = 500  # a page stays readable; the download holds every rejected row


def _form_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("pages/upload.html", error=error, form=request.form), status


@pages.get("/upload")
@signed_in("upload")
def upload() -> tuple[str, int]:
    return _form_page()


@pages.post("/upload")
@signed_in("upload")
def upload_post() -> tuple[str, int]:
    user = current_user()
    upload_file = request.files.get("file")
    try:
        period = parse_period(request.form.get("start_date_period"), request.form.get("end_date_period"))
        if upload_file is None or not upload_file.filename:
            raise UploadRejected("Choose the CSV file to upload.")
        raw = upload_file.read()
        result = ingest_csv(get_engine(), raw, period, source="web",
                            token_name=user.name if user else None,
                            wait_seconds=get_settings().upload_wait_seconds,
                            user_id_pattern=get_settings().user_id_pattern)
    except UploadRejected as exc:
        return _form_page(f"Nothing was stored. {exc}", 400)
    except StorageBusy as exc:
        return _form_page(str(exc), 503)
    g.log_fields = result.log_fields()
    log.info("upload stored from the upload page", extra=g.log_fields)
    rejected = rejected_rows(raw, result.errors, get_settings().user_id_pattern) if result.errors else None
    payload = table_payload(rejected.header, rejected.rows) if rejected else None
    html = render_template("pages/upload_result.html", result=result, rejected=rejected,
                           payload=payload, errors=result.errors[:MAX_ERRORS_SHOWN],
                           filename=upload_file.filename)
    return html, 200


@pages.post("/upload/rejected-rows.csv")
@signed_in("upload")
def rejected_rows_csv() -> Response:
    return posted_csv("rejected-rows.csv")
