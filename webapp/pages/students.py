"""One student's page: predictions over the semester, the latest reasons, the uploaded indicators."""

from __future__ import annotations

from flask import render_template

from gradewatch.models.explain import reason_text
from gradewatch.reports import risk_tier
from gradewatch.storage.history import student_timeline, uploaded_indicators
from webapp.context import get_engine, get_settings
from webapp.pages.blueprint import PageError, pages
from webapp.pages.charts import series_chart
from webapp.pages.reports import period_from_key
from webapp.pages.security import signed_in


@pages.get("/reports/<semester>/students/<user_id>")
@signed_in("report")
def student_page(semester: str, user_id: str) -> str:
    period = period_from_key(semester)
    engine = get_engine()
    timeline = student_timeline(engine, period, user_id)
    indicators = uploaded_indicators(engine, period, user_id)
    if not timeline and indicators is None:
        raise PageError(404, "No such student", f"No student {user_id} in {period.start.isoformat()} to "
                        f"{period.end.isoformat()}. Pick the student on the semester's report.")
    latest = timeline[-1] if timeline else None
    chart = None
    if timeline:
        points = [(p["predicted_at"].strftime("%m-%d"), 100 * p["probability_below_pass"],
                   f"{p['predicted_at']:%Y-%m-%d %H:%M}: {p['probability_below_pass']:.0%} probability of failing")
                  for p in timeline]
        chart = series_chart(points, "Probability of failing in each prediction, oldest first: "
                             + " → ".join(f"{p['probability_below_pass']:.0%}" for p in timeline) + ".",
                             top=100, flagged=[bool(p["at_risk"]) for p in timeline])
    return render_template(
        "pages/student.html", period=period, user_id=user_id, timeline=timeline, latest=latest, chart=chart,
        tier=risk_tier(latest["probability_below_pass"], get_settings().risk_tiers) if latest else None,
        reasons=[reason_text(r) for r in (latest or {}).get("reasons") or ()], indicators=indicators)
