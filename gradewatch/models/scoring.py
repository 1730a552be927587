"""Score ad-hoc rows with a loaded model (``POST /predict`` and the predict page).

The rows go through the same cleaning rules as a stored semester, against the same reference
(the training statistics stored with the model), so a sentinel or a typo is imputed exactly as
it is in the batch pipeline and a student gets the same prediction from both; rows with too many implausible values
are returned as row errors instead of a meaningless prediction. Nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gradewatch import schema
from gradewatch.intake.reader import ROW, RowError
from gradewatch.models.registry import LoadedModel
from gradewatch.quality.cleaning import EXCLUDED, clean_semester

OUTPUT_COLUMNS = (
    ROW, schema.USER_ID, "predicted_grade", "interval_lower", "interval_upper",
    "probability_below_pass", "at_risk", "model_version",
)


@dataclass
class ScoredRows:
    predictions: pd.DataFrame
    errors: list[RowError]


def score_rows(frame: pd.DataFrame, loaded: LoadedModel, pass_mark: float) -> ScoredRows:
    """Predict every parsed row of ``frame`` (reader output, with its ``row`` numbers)."""
    # A feature the input lacks is missing in every row (the cleaning rules then decide), not a
    # column the model cannot find.
    absent = [c for c in schema.FEATURES if c not in frame.columns]
    work = frame.assign(**dict.fromkeys(absent)) if absent else frame.copy()
    original_ids = work[schema.USER_ID] if schema.USER_ID in work.columns else None
    # Cleaning keys rows by user_id; here every row counts on its own, even without an id.
    work[schema.USER_ID] = work[ROW].astype(str)
    cleaned = clean_semester(work, loaded.cleaning_reference).frame
    excluded = cleaned[EXCLUDED].astype(bool)
    errors = [
        RowError(int(key), None, "too many missing or implausible values to predict this row")
        for key in cleaned.loc[excluded, schema.USER_ID]
    ]
    usable = cleaned.loc[~excluded].reset_index(drop=True)
    if usable.empty:  # every row is an error: the model has nothing to score (it refuses 0 rows)
        return ScoredRows(pd.DataFrame(columns=list(OUTPUT_COLUMNS)), errors)
    predicted = loaded.predict(usable, pass_mark)
    rows = usable[schema.USER_ID].astype(int)
    ids = (original_ids.set_axis(frame[ROW].to_numpy()).reindex(rows.to_numpy()).to_numpy()
           if original_ids is not None else [None] * len(rows))
    result = pd.DataFrame({ROW: rows.to_numpy(), schema.USER_ID: ids})
    result = pd.concat([result, predicted.reset_index(drop=True)], axis=1)
    result["model_version"] = loaded.version
    return ScoredRows(result.loc[:, list(OUTPUT_COLUMNS)], errors)
