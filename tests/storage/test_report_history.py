"""Reasons, the previous run, filters and history of grade_predictions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gradewatch.reports import REPORT_HEADER, ReportView, report_rows
from gradewatch.storage.history import HistoryQuery, prediction_history, semester_runs, student_timeline
from gradewatch.storage.reports import report_counts
from tests.support.report_runs import FIRST, REASON, two_prediction_runs
from tests.support.semesters import S1, S2

TIERS = (0.5, 0.2)


@pytest.fixture
def two_runs(engine) -> list[str]:
    return two_prediction_runs(engine)


def rows(engine, view: ReportView | None = None) -> dict[str, dict]:
    found = report_rows(engine, S1, TIERS, view or ReportView())
    return {r[0]: dict(zip(REPORT_HEADER, r, strict=True)) for r in found}


def test_the_report_compares_with_the_previous_run_and_ignores_shadow_rows(engine, two_runs) -> None:
    ids = two_runs
    report = rows(engine)
    assert list(report) == [ids[2], ids[5], ids[0], ids[4], ids[1], ids[3]]  # riskiest first, 6 not 7
    first = report[ids[0]]
    assert first["previous_probability_below_pass"] == pytest.approx(0.1)
    assert first["change_in_probability"] == pytest.approx(0.5)
    assert first["newly_at_risk"] is True and first["risk_tier"] == "high"
    assert first["reasons"] == "attendance_rate 61 (typical 84): -7.5 points (actionable)"
    assert report[ids[1]]["probability_below_pass"] == pytest.approx(0.3)  # not the shadow's 0.99
    assert report[ids[1]]["risk_tier"] == "moderate" and report[ids[3]]["risk_tier"] == "low"
    assert report[ids[2]]["newly_at_risk"] is False  # at risk in both runs
    assert report[ids[5]]["previous_probability_below_pass"] is None  # not in the first run
    assert report[ids[5]]["newly_at_risk"] is False and report[ids[5]]["change_in_probability"] is None


def test_filters_return_exactly_the_rows_they_name(engine, two_runs) -> None:
    everyone = rows(engine)
    for view, keep in [
        (ReportView(tier="high"), lambda r: r["probability_below_pass"] >= 0.5),
        (ReportView(tier="moderate"), lambda r: 0.2 <= r["probability_below_pass"] < 0.5),
        (ReportView(tier="low"), lambda r: r["probability_below_pass"] < 0.2),
        (ReportView(at_risk_only=True), lambda r: r["at_risk"]),
        (ReportView(newly_at_risk_only=True), lambda r: r["newly_at_risk"]),
        (ReportView(tier="moderate", at_risk_only=True), lambda r: False),
    ]:
        assert list(rows(engine, view)) == [k for k, r in everyone.items() if keep(r)], view
    assert report_counts(engine, S1, TIERS) == {"students": 6, "at_risk": 3, "newly_at_risk": 1,
                                                "high": 3, "moderate": 2, "low": 1}


def test_history_is_newest_first_filtered_and_paged(engine, two_runs) -> None:
    ids = two_runs
    page, total = prediction_history(engine, HistoryQuery(S1, ids[1]), limit=10)
    assert total == 3 and [r["role"] for r in page] == ["shadow", "champion", "champion"]
    assert page[-1]["probability_below_pass"] == pytest.approx(0.3)
    champion, total = prediction_history(engine, HistoryQuery(user_id=ids[1], role="champion"), limit=1)
    assert total == 2 and len(champion) == 1 and champion[0]["reasons"] == REASON
    later, total = prediction_history(engine, HistoryQuery(S1, since=FIRST + timedelta(days=1)), limit=100)
    assert total == 7 and {r["user_id"] for r in later} == set(ids)
    earlier, total = prediction_history(engine, HistoryQuery(S1, until=FIRST + timedelta(days=1)), limit=2,
                                        offset=4)
    assert total == 5 and len(earlier) == 1
    assert prediction_history(engine, HistoryQuery(S2), limit=10) == ([], 0)
    with pytest.raises(ValueError, match="semester or a user_id"):
        prediction_history(engine, HistoryQuery(role="champion"), limit=10)
    timeline = student_timeline(engine, S1, ids[0])
    assert [round(r["probability_below_pass"], 2) for r in timeline] == [0.1, 0.6]
    assert [(r["students"], r["at_risk"]) for r in semester_runs(engine, S1)] == [(5, 2), (6, 3)]
