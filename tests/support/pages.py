"""Helpers for the web-page tests: CSRF-aware sign-in, and model tables filled for real.

The model tables are written through the same storage functions the pipeline uses, and the
champion is a real (small) scikit-learn model, so the predict page scores with real code.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gradewatch.models.registry import register_model
from gradewatch.models.training import SearchConfig, train_model
from gradewatch.monitoring.drift import FeatureDrift
from gradewatch.monitoring.evaluation import evaluate
from gradewatch.semesters import Period
from gradewatch.storage.monitoring import replace_drift_metrics, replace_performance
from gradewatch.storage.predictions import record_predictions
from tests.support.gradegen import make_semester  # tests/gradegen.py: a known distribution

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_PAYLOAD = re.compile(r'name="rows" value="([^"]*)"')
TINY_SEARCH = SearchConfig(families=("ridge",), n_iter=1, cv=3, n_jobs=1)
OLD_SEMESTERS = (Period.from_key("2025-01-13_2025-06-27"), Period.from_key("2025-08-25_2025-12-19"))


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def payload_of(page: str) -> dict:
    match = _PAYLOAD.search(page)
    assert match, "the page has no download form"
    return json.loads(html.unescape(match.group(1)))


def sign_in(client, token: str) -> str:
    """Sign the test client in through the form; returns the session's CSRF token."""
    form = client.get("/sign-in").get_data(as_text=True)
    response = client.post("/sign-in", data={"token": token, "csrf_token": csrf_of(form)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_of(client.get("/predict-csv").get_data(as_text=True))


def train_champion(engine: Engine) -> str:
    """Train a small real model on two graded semesters and make it the champion."""
    history = pd.concat([make_semester(300, seed=11), make_semester(300, seed=12)], ignore_index=True)
    trained = train_model(history, seed=0, config=TINY_SEARCH)
    return register_model(engine, trained, list(OLD_SEMESTERS), status="champion")


def fill_monitoring(engine: Engine, version: str) -> None:
    """Accuracy of ``version`` on the two old semesters, and drift on them (one feature drifts)."""
    for number, period in enumerate(OLD_SEMESTERS):
        frame = make_semester(200, seed=20 + number)
        noise = np.random.default_rng(number).normal(0, 5, len(frame))
        predicted = frame["final_grade"] + noise
        scored = frame.assign(predicted_grade=predicted, interval_lower=predicted - 9,
                              interval_upper=predicted + 9, at_risk=predicted < 60)
        replace_performance(engine, period, version, evaluate(scored, 60.0).to_record(), within_tolerance=True)
        drifts = [
            FeatureDrift("attendance_rate", "ks", 0.05 + 0.15 * number, 0.001, 0.12, "moderate", 0.1,
                         number == 1, 200, 200),
            FeatureDrift("parental_support", "chi2", 0.02, 0.6, 0.01, "stable", 0.05, False, 200, 200),
            FeatureDrift("extracurricular_activities_count", "insufficient_data", None, None, None, None,
                         None, False, 10, 10),
        ]
        replace_drift_metrics(engine, period, [asdict(d) for d in drifts], version,
                              computed_at=datetime.now(UTC) - timedelta(days=30 * (2 - number)))


def predict_everyone(engine: Engine, period: Period, user_ids: list[str]) -> None:
    """A prediction run for ``user_ids``: every other student at risk."""
    grades = [45.0 + 10 * (i % 4) for i in range(len(user_ids))]
    frame = pd.DataFrame({
        "user_id": user_ids,
        "predicted_grade": grades,
        "interval_lower": [g - 8 for g in grades],
        "interval_upper": [g + 8 for g in grades],
        "probability_below_pass": [0.9 if g < 60 else 0.1 for g in grades],
        "at_risk": [g < 60 for g in grades],
    })
    record_predictions(engine, period, frame, "v-test", datetime.now(UTC))
