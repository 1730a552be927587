"""The reports page: every semester's counts, and the report download for a signed-in session.

The download is the CSV of ``GET /get-report``, built from the same storage functions and the
same header, so a browser needs no bearer header to get it.
"""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

from gradewatch.intake.csv_safety import iter_csv
from gradewatch.intake.ingest import UploadRejected, parse_period
from gradewatch.storage.overview import semester_overview
from gradewatch.storage.reports import REPORT_HEADER, iter_report, report_ready
from webapp.context import get_engine, get_settings
from webapp.pages.blueprint import PageError, pages
from webapp.pages.security import signed_in


@pages.get("/reports")
@signed_in()
def reports() -> str:
    return render_template("pages/reports.html", semesters=semester_overview(get_engine()),
                           pass_mark=get_settings().pass_mark)


@pages.get("/reports/download")
@signed_in("report")
def report_download() -> Response:
    try:
        period = parse_period(request.args.get("start_date_period"), request.args.get("end_date_period"))
    except UploadRejected as exc:
        raise PageError(400, "Which semester?", f"{exc} Pick the semester on the reports page.") from exc
    engine = get_engine()
    if not report_ready(engine, period):
        raise PageError(404, "The report is not ready",
                        f"The report for {period.start.isoformat()} to {period.end.isoformat()} is not "
                        "ready: no student of this semester has a prediction without a final grade yet.")
    rows = ([row[c] for c in REPORT_HEADER] for row in iter_report(engine, period))
    return Response(
        stream_with_context(iter_csv(REPORT_HEADER, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="gradewatch-report-{period.key}.csv"'},
    )
