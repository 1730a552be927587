"""A model that does not beat the naive baselines is served, but never silently (issue 14):
GET /model, the model page and the reports page say so; an informative model carries no
warning. Real models trained on generated data, both backends."""

from __future__ import annotations

import pytest

from gradewatch.models.registry import register_model
from gradewatch.models.training import train_model
from gradewatch.monitoring.evaluation import evaluate
from gradewatch.storage.estimates import record_realised_mae, replace_estimate
from gradewatch.storage.monitoring import replace_performance
from tests.support.gradegen import make_noise_semester, make_semester
from tests.support.pages import OLD_SEMESTERS, TINY_SEARCH, sign_in

WARNING = "the at-risk list is no better than a rule of thumb"


def _champion(engine, frame) -> str:
    trained = train_model(frame, seed=0, config=TINY_SEARCH)
    return register_model(engine, trained, list(OLD_SEMESTERS), status="champion")


@pytest.mark.parametrize(("data", "informative"), [(make_noise_semester, False), (make_semester, True)],
                         ids=["noise", "informative"])
def test_model_endpoint_and_pages_tell_whether_the_model_beats_the_baselines(
    client, engine, report_token, data, informative
) -> None:
    version = _champion(engine, data(600, seed=8))
    body = client.get("/model").json
    assert body["version"] == version
    assert body["informative"] is informative
    assert set(body["baselines"]) == {"mean_grade", "previous_grade", "previous_grade_as_is"}
    assert body["baseline_comparison"]["best_baseline_cv_mae"] > 0
    assert body["shadow_version"] is None
    sign_in(client, report_token)
    for path in ("/model-status", "/reports"):
        page = client.get(path).get_data(as_text=True)
        assert (WARNING in page) is not informative, path
        assert ('id="not-informative"' in page) is not informative, path


def test_model_page_shows_shadow_reliability_and_estimates(client, engine, report_token) -> None:
    version = _champion(engine, make_semester(600, seed=8))
    shadow = register_model(engine, train_model(make_semester(600, seed=9), seed=0, config=TINY_SEARCH),
                            list(OLD_SEMESTERS))
    data = make_semester(300, seed=4)
    failing = data["final_grade"] < 60
    scored = data.assign(predicted_grade=data["final_grade"], interval_lower=data["final_grade"] - 5,
                         interval_upper=data["final_grade"] + 5, at_risk=failing,
                         probability_below_pass=failing.map({True: 0.95, False: 0.05}))
    replace_performance(engine, OLD_SEMESTERS[1], version, evaluate(scored, 60).to_record(), True)
    replace_estimate(engine, OLD_SEMESTERS[1], version, method="direct_loss_estimation", n_students=300,
                     estimated_mae=6.25, lower=5.5, upper=7.0)
    record_realised_mae(engine, OLD_SEMESTERS[1], version, 6.5)
    assert client.get("/model").json["shadow_version"] == shadow
    sign_in(client, report_token)
    page = client.get("/model-status").get_data(as_text=True)
    assert f'<dd id="shadow-version">{shadow}' in page
    assert 'id="reliability"' in page and "95%" in page
    assert 'id="estimates"' in page and "6.25" in page and "5.50 to 7.00" in page and "6.50" in page
