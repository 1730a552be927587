"""The reports pages: every semester's counts, one semester's report with filters, downloads.

The download is the CSV of ``GET /get-report``, built from the same core function and the same
header, so a browser needs no bearer header to get it; without filters it is byte for byte the
same. The filters are query parameters (``tier``, ``at_risk``, ``newly``), so they work without
script, and the download link carries them.
"""

from __future__ import annotations

from itertools import islice

from flask import Response, render_template, request, stream_with_context

from gradewatch.intake.csv_safety import iter_csv
from gradewatch.intake.ingest import UploadRejected, parse_period
from gradewatch.models.standing import model_standing
from gradewatch.reports import REPORT_HEADER, RISK_TIERS, ReportView, report_rows
from gradewatch.semesters import Period, PeriodError
from gradewatch.storage.history import semester_runs
from gradewatch.storage.overview import semester_overview
from gradewatch.storage.reports import report_counts, report_ready
from webapp.context import get_engine, get_settings
from webapp.pages.blueprint import PageError, pages
from webapp.pages.charts import series_chart
from webapp.pages.security import signed_in

SHOWN_ROWS = 100  # rows of a report shown on its page; the download has them all


@pages.get("/reports")
@signed_in()
def reports() -> str:
    engine, settings = get_engine(), get_settings()
    semesters = semester_overview(engine)
    counts = {s.period.key: report_counts(engine, s.period, settings.risk_tiers) for s in semesters if s.report_ready}
    return render_template("pages/reports.html", semesters=semesters, counts=counts, tiers=settings.risk_tiers,
                           pass_mark=settings.pass_mark, standing=model_standing(engine, settings))


def period_from_key(key: str) -> Period:
    try:
        return Period.from_key(key)
    except PeriodError as exc:
        raise PageError(404, "No such semester", f"{exc}. Pick the semester on the reports page.") from exc


def view_from_query() -> ReportView:
    tier = request.args.get("tier") or None
    if tier is not None and tier not in RISK_TIERS:
        raise PageError(400, "No such risk tier",
                        f"The risk tier must be one of {', '.join(RISK_TIERS)}; pick it in the filter form.")
    return ReportView(tier, request.args.get("at_risk") == "1", request.args.get("newly") == "1")


def view_arguments(view: ReportView) -> dict[str, str]:
    """The query parameters that name ``view`` (none for the full report)."""
    arguments = {"tier": view.tier} if view.tier else {}
    if view.at_risk_only:
        arguments["at_risk"] = "1"
    if view.newly_at_risk_only:
        arguments["newly"] = "1"
    return arguments


def _not_ready(period: Period) -> PageError:
    return PageError(404, "The report is not ready",
                     f"The report for {period.start.isoformat()} to {period.end.isoformat()} is not "
                     "ready: no student of this semester has a prediction without a final grade yet.")


def _runs_chart(period: Period):
    runs = semester_runs(get_engine(), period)
    if not runs:
        return None, runs
    points = [(r["predicted_at"].strftime("%m-%d"), float(r["at_risk"]),
               f"{r['predicted_at']:%Y-%m-%d %H:%M}: {r['at_risk']} of {r['students']} at risk")
              for r in runs]
    moves = " → ".join(str(r["at_risk"]) for r in runs)
    description = (f"Students at risk in each of the semester's last {len(runs)} prediction run(s), "
                   f"oldest first: {moves}.")
    return series_chart(points, description), runs


@pages.get("/reports/<semester>")
@signed_in("report")
def semester_report(semester: str) -> str:
    period = period_from_key(semester)
    view = view_from_query()
    engine, tiers = get_engine(), get_settings().risk_tiers
    if not report_ready(engine, period):
        raise _not_ready(period)
    rows = [dict(zip(REPORT_HEADER, r, strict=True))
            for r in islice(report_rows(engine, period, tiers, view), SHOWN_ROWS + 1)]
    chart, runs = _runs_chart(period)
    return render_template(
        "pages/semester_report.html", period=period, view=view, arguments=view_arguments(view),
        rows=rows[:SHOWN_ROWS], more=len(rows) > SHOWN_ROWS, counts=report_counts(engine, period, tiers),
        chart=chart, runs=runs, tiers=tiers, tier_names=RISK_TIERS, pass_mark=get_settings().pass_mark)


@pages.get("/reports/download")
@signed_in("report")
def report_download() -> Response:
    try:
        period = parse_period(request.args.get("start_date_period"), request.args.get("end_date_period"))
    except UploadRejected as exc:
        raise PageError(400, "Which semester?", f"{exc} Pick the semester on the reports page.") from exc
    view = view_from_query()
    engine = get_engine()
    if not report_ready(engine, period):
        raise _not_ready(period)
    rows = report_rows(engine, period, get_settings().risk_tiers, view)
    suffix = "" if view.is_full else "-" + "-".join(f"{k}-{v}" for k, v in view_arguments(view).items())
    return Response(
        stream_with_context(iter_csv(REPORT_HEADER, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="gradewatch-report-{period.key}{suffix}.csv"'},
    )
