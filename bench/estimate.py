"""The label-free MAE estimate (direct loss estimation) against the realised MAE on shifted
generated semesters; NannyML's DLE side by side when it is importable (a throwaway venv).

    uv run python bench/estimate.py [--repeats 3] [--nannyml-python /tmp/venv/bin/python]

A model is trained (quick search, gender excluded) on a reference semester whose low-attendance
students are less predictable; held-out semesters are shifted in attendance by 0 to 3 SD. For
each: our estimate, its interval, the realised MAE, and whether the estimate is within 20%.
With ``--nannyml-python``, the same reference (out-of-fold predictions) and analysis rows are
written to a temporary folder and NannyML's DLE is run there in that interpreter: NannyML is not
a project dependency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.support import load_average
from gradewatch.models.features import model_feature_spec
from gradewatch.models.training import SearchConfig, train_model
from gradewatch.monitoring.estimate import estimate_mae
from tests.support.gradegen import make_semester

SHIFTS = (0.0, -0.5, -1.0, -1.5, -2.0, -2.5, -3.0)
QUICK = SearchConfig(families=("ridge", "hist_gradient_boosting"), n_iter=2, cv=5)
NANNYML = """
import json, sys
import pandas as pd, nannyml as nml
pd.set_option("future.infer_string", False)  # NannyML 0.13 cannot reshape pyarrow-backed strings
folder = sys.argv[1]
reference = pd.read_csv(f"{folder}/reference.csv")
features = json.load(open(f"{folder}/features.json"))
estimator = nml.DLE(feature_column_names=features, y_pred="y_pred", y_true="y_true",
                    metrics=["mae"], chunk_number=1)
estimator.fit(reference)
out = {}
for name in json.load(open(f"{folder}/semesters.json")):
    result = estimator.estimate(pd.read_csv(f"{folder}/{name}.csv")).to_df()
    out[name] = float(result[("mae", "value")].iloc[-1])
print(json.dumps(out))
"""


def run(repeats: int, nannyml_python: str | None) -> None:
    spec = model_feature_spec(("gender",))
    rows = []
    for repeat in range(repeats):
        reference = make_semester(3000, seed=11 + repeat, unsteady=0.5)
        model = train_model(reference, spec, config=QUICK, seed=repeat)
        semesters = {f"shift{abs(s):.1f}": make_semester(500, seed=100 + 10 * repeat + i, unsteady=0.5,
                                                          attendance_shift_sd=s)
                     for i, s in enumerate(SHIFTS)}
        nml_estimates = _nannyml(nannyml_python, model, reference, semesters, spec) if nannyml_python else {}
        for name, semester in semesters.items():
            estimate = estimate_mae(model, semester)
            realised = float(np.mean(np.abs(semester["final_grade"] - model.predict_grades(semester))))
            rows.append({"repeat": repeat, "semester": name, "realised": realised, "ours": estimate.estimated_mae,
                         "lower": estimate.lower, "upper": estimate.upper, "nannyml": nml_estimates.get(name)})
    table = pd.DataFrame(rows)
    for column in ("ours", "nannyml"):
        if table[column].notna().any():
            table[f"{column}_within_20%"] = (table[column] - table["realised"]).abs() <= 0.2 * table["realised"]
    table["realised_in_interval"] = (table["realised"] >= table["lower"]) & (table["realised"] <= table["upper"])
    summary = table.groupby("semester", sort=False).median(numeric_only=True).drop(columns="repeat")
    print(f"load average {load_average()}; {repeats} repeat(s); medians per shift")
    print(summary.round(3).to_string())
    for column in ("ours_within_20%", "nannyml_within_20%", "realised_in_interval"):
        if column in table:
            print(f"{column}: {table[column].mean():.0%} of {len(table)} semesters")
    for column in ("ours", "nannyml"):
        if table[column].notna().any():
            errors = ((table[column].astype(float) - table.realised).abs() / table.realised).dropna()
            print(f"median |{column} - realised| / realised: {statistics.median(errors.tolist()):.3f}; "
                  f"beyond 2 SD of shift: {statistics.median(errors[_beyond(table, 2.0)].tolist()):.3f}")


def _beyond(table: pd.DataFrame, sd: float) -> pd.Series:
    """The semesters shifted by more than ``sd`` standard deviations (named ``shift<sd>``)."""
    return table["semester"].str.removeprefix("shift").astype(float) > sd


def _nannyml(python: str, model, reference: pd.DataFrame, semesters: dict[str, pd.DataFrame], spec) -> dict:
    """NannyML's DLE fitted on the same reference (out-of-fold predictions, so its loss model sees
    honest errors, like ours) and run on the same semesters, in another interpreter."""
    from sklearn.model_selection import cross_val_predict

    features = list(spec.columns)
    folder = Path(tempfile.mkdtemp(prefix="gradewatch-nannyml-"))
    oof = cross_val_predict(model.pipeline, reference[features], reference["final_grade"], cv=5)
    reference[features].assign(y_pred=oof, y_true=reference["final_grade"]).to_csv(folder / "reference.csv",
                                                                                    index=False)
    for name, semester in semesters.items():
        semester[features].assign(y_pred=model.predict_grades(semester)).to_csv(folder / f"{name}.csv", index=False)
    (folder / "features.json").write_text(json.dumps(features))
    (folder / "semesters.json").write_text(json.dumps(list(semesters)))
    done = subprocess.run([python, "-c", NANNYML, str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"NannyML failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nannyml-python", help="an interpreter where nannyml is installed")
    args = parser.parse_args(argv)
    run(args.repeats, args.nannyml_python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
