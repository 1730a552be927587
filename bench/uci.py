"""Cortez & Silva (2008) protocol on the real UCI Student Performance data, with our modeling code.

G3 regression; setups A (all but G3), B (A without G2), C (B without G1); Mathematics and
Portuguese; R runs of 10-fold cross-validation (the paper: 20 runs). In every training fold
``train_model`` runs its own model selection (randomized search by inner-CV MAE), so no
hyper-parameter ever sees the test fold. RMSE per run over all its out-of-fold predictions;
mean and t-Student 95% confidence interval over runs, printed beside Table 5 of the paper
(see shared/data/README.md).

    uv run python bench/uci.py [DATA_DIR] [--runs 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from sklearn.model_selection import KFold

from bench.support import load_average
from gradewatch.models.features import FeatureSpec
from gradewatch.models.training import SearchConfig, train_model


def _shared_data() -> Path:
    """``shared/data/uci-student-performance`` beside the checkout: two levels up from a clone at
    /work/main, three from a worktree at /work/wt/<name>; the first ancestor that has it."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "uci-student-performance"
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "uci-student-performance"


DEFAULT_DIR = _shared_data()
COURSES = {"Mathematics": "student-mat.csv", "Portuguese": "student-por.csv"}
SETUPS = {"A": (), "B": ("G2",), "C": ("G1", "G2")}
# Table 5 of the paper: (NV, best model, RF) RMSE per course and setup.
PAPER = {
    ("Mathematics", "A"): {"NV": 2.01, "RF": 1.75, "best": ("RF", 1.75)},
    ("Mathematics", "B"): {"NV": 2.80, "RF": 2.46, "best": ("RF", 2.46)},
    ("Mathematics", "C"): {"NV": 4.59, "RF": 3.90, "best": ("RF", 3.90)},
    ("Portuguese", "A"): {"NV": 1.32, "RF": 1.32, "best": ("NV/RF", 1.32)},
    ("Portuguese", "B"): {"NV": 1.89, "RF": 1.79, "best": ("DT", 1.78)},
    ("Portuguese", "C"): {"NV": 3.23, "RF": 2.67, "best": ("RF", 2.67)},
}


def load(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=";")
    for column in ("G1", "G2", "G3"):  # G1 and G2 are quoted in the files
        frame[column] = pd.to_numeric(frame[column])
    return frame


def spec_for(frame: pd.DataFrame, setup: str, exclude: tuple[str, ...] = ()) -> FeatureSpec:
    columns = [c for c in frame.columns if c != "G3" and c not in SETUPS[setup] and c not in exclude]
    numeric = tuple(c for c in columns if pd.api.types.is_numeric_dtype(frame[c]))
    categorical = tuple(c for c in columns if c not in numeric)
    return FeatureSpec(numeric, categorical, target_range=(0.0, 20.0))


def naive(train: pd.DataFrame, test: pd.DataFrame, setup: str) -> np.ndarray:
    if setup == "A":
        return test["G2"].to_numpy(dtype=float)
    if setup == "B":
        return test["G1"].to_numpy(dtype=float)
    return np.full(len(test), train["G3"].mean())


def one_fold(
    frame: pd.DataFrame, spec: FeatureSpec, setup: str, run: int,
    train_idx: np.ndarray, test_idx: np.ndarray, config: SearchConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    train, test = frame.iloc[train_idx], frame.iloc[test_idx]
    model = train_model(train, spec, target="G3", seed=run, config=config)
    return test_idx, model.predict_grades(test), naive(train, test, setup), model.algorithm


def run_cell(frame: pd.DataFrame, setup: str, runs: int, jobs: int, config: SearchConfig,
             exclude: tuple[str, ...] = (), first_run: int = 0) -> dict:
    spec = spec_for(frame, setup, exclude)
    y = frame["G3"].to_numpy(dtype=float)
    ours, baseline, algorithms = [], [], []
    for run in range(first_run, first_run + runs):
        folds = KFold(n_splits=10, shuffle=True, random_state=run).split(frame)
        results = Parallel(n_jobs=jobs)(
            delayed(one_fold)(frame, spec, setup, run, tr, te, config) for tr, te in folds
        )
        predicted, nv = np.empty_like(y), np.empty_like(y)
        for test_idx, pred, base, algorithm in results:
            predicted[test_idx], nv[test_idx] = pred, base
            algorithms.append(algorithm)
        ours.append(np.sqrt(np.mean((y - predicted) ** 2)))
        baseline.append(np.sqrt(np.mean((y - nv) ** 2)))
    return {"ours": ours, "nv": baseline, "algorithms": algorithms}


def mean_ci(values: list[float]) -> tuple[float, float]:
    values_arr = np.asarray(values)
    if values_arr.size < 2:
        return float(values_arr.mean()), float("nan")
    half = stats.t.ppf(0.975, values_arr.size - 1) * values_arr.std(ddof=1) / np.sqrt(values_arr.size)
    return float(values_arr.mean()), float(half)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--runs", type=int, default=20, help="runs of 10-fold CV (paper: 20)")
    parser.add_argument("--first-run", type=int, default=0,
                        help="seed of the first run: on a busy machine the runs can be split over "
                             "invocations (0-1, then 2-3, ...) and pooled by hand")
    parser.add_argument("--jobs", type=int, default=2, help="folds trained in parallel")
    parser.add_argument("--n-iter", type=int, default=2, help="random configurations per family")
    parser.add_argument("--inner-cv", type=int, default=3, help="inner folds of the model selection")
    parser.add_argument("--select", choices=("mae", "rmse"), default="mae",
                        help="inner selection metric (the product uses MAE)")
    parser.add_argument("--only", help="run only these cells, comma-separated, e.g. Mathematics:C,Portuguese:A")
    parser.add_argument("--trees", type=int, default=100, help="trees of the final random forest")
    parser.add_argument("--exclude", default="", help="comma-separated columns never used as inputs, "
                        "e.g. sex (GradeWatch excludes gender by default)")
    args = parser.parse_args(argv)
    exclude = tuple(c.strip() for c in args.exclude.split(",") if c.strip())
    # One thread per fold for the forests: the folds are already spread over the cores.
    config = SearchConfig(n_iter=args.n_iter, cv=args.inner_cv, n_jobs=1,
                          selection_metric=args.select, rf_trees=args.trees)
    print(f"UCI student performance, {args.runs} x 10-fold CV (runs {args.first_run} to "
          f"{args.first_run + args.runs - 1}), inner search: {args.n_iter} "
          f"configs/family x {args.inner_cv}-fold CV by {args.select.upper()}, "
          f"final forests of {args.trees} trees; "
          f"excluded inputs: {', '.join(exclude) or 'none'}; RMSE mean ± t 95% CI over runs; "
          f"load average {load_average()}")
    header = (f"{'course':12} {'setup':5} {'ours':>13} {'our NV':>13} {'paper NV':>8} "
              f"{'paper RF':>8} {'paper best':>12}  verdict vs paper RF   chosen models")
    print(header)
    print("-" * len(header))
    for course, filename in COURSES.items():
        frame = load(args.data_dir / filename)
        for setup in SETUPS:
            if args.only and f"{course}:{setup}" not in args.only.split(","):
                continue
            started = time.perf_counter()
            cell = run_cell(frame, setup, args.runs, args.jobs, config, exclude, args.first_run)
            ours, ours_ci = mean_ci(cell["ours"])
            nv, nv_ci = mean_ci(cell["nv"])
            paper = PAPER[(course, setup)]
            gap = ours - paper["RF"]
            verdict = "below" if gap < -0.005 else ("equal" if abs(gap) <= 0.005 else "ABOVE")
            chosen = pd.Series(cell["algorithms"]).value_counts(normalize=True)
            picks = ", ".join(f"{name} {share:.0%}" for name, share in chosen.items())
            best_name, best = paper["best"]
            print(f"{course:12} {setup:5} {ours:6.2f} ± {ours_ci:4.2f} {nv:6.2f} ± {nv_ci:4.2f} "
                  f"{paper['NV']:8.2f} {paper['RF']:8.2f} {best:6.2f} ({best_name:>5})  "
                  f"{verdict} ({gap:+.2f})        {picks}  [{time.perf_counter() - started:.0f} s, "
                  f"load {load_average()}]",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
