"""False-alarm rate and power of the drift detector over n = 100 .. 1,000,000.

Scenarios (the generator of tests/gradegen.py): no drift; attendance shifted by 0.5 standard
deviation; 15 more points of students with 'high' parental support. The reference is what a
champion was trained on: ``--reference-rows`` students (default 5,000, about two semesters) or
n when n is larger; ``--reference-rows 0`` compares two samples of n each instead.

* false alarms = share of no-drift trials where the DATASET is declared drifted;
* power = share of shifted trials where the shifted FEATURE is declared drifted.

With ``--evidently-python PATH`` (a Python that has evidently installed, e.g. a throwaway
venv: it is not a dependency of GradeWatch) Evidently's DataDriftPreset with its defaults runs
on the very same samples, and its figures are printed beside ours ("dataset" = its own
share-of-columns >= 0.5 rule; "any" = any column flagged).

    uv run python bench/drift_power.py [--trials-scale 1.0] [--evidently-python /tmp/evenv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pandas as pd

from tests.support.gradegen import make_semester, shifted_support

SIZES = (100, 300, 1000, 10_000, 100_000, 1_000_000)
TRIALS = {100: 400, 300: 400, 1000: 200, 10_000: 50, 100_000: 10, 1_000_000: 3}
SCENARIOS = {
    "none": ({}, None),
    "attendance +0.5 sd": ({"attendance_shift_sd": 0.5}, "attendance_rate"),
    "support +15 pts": ({"support_shares": shifted_support(0.15)}, "parental_support"),
}


def samples(n: int, trial: int, scenario: str, reference_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference and current frames of one trial; the same for us and for Evidently."""
    kwargs, _ = SCENARIOS[scenario]
    ref_n = max(reference_rows, n) if reference_rows else n
    base = 1_000_003 * (SIZES.index(n) + 1) + 10 * trial
    reference = make_semester(ref_n, seed=base + 1)
    current = make_semester(n, seed=base + 2 + list(SCENARIOS).index(scenario), **kwargs)
    return reference, current


def ours(sizes: list[int], trials: dict[int, int], reference_rows: int) -> dict[str, dict[str, float]]:
    from gradewatch.monitoring.drift import build_profile, compare  # not in the Evidently venv

    results: dict[str, dict[str, float]] = {}
    for n in sizes:
        for scenario, (_, target) in SCENARIOS.items():
            hits = 0
            for trial in range(trials[n]):
                reference, current = samples(n, trial, scenario, reference_rows)
                report = compare(build_profile(reference, seed=trial), current)
                hits += report.dataset_drift if target is None else target in report.drifted_features
            results[f"{n}|{scenario}"] = {"rate": hits / trials[n], "trials": trials[n]}
    return results


def evidently_peer(sizes: list[int], trials: dict[int, int], reference_rows: int) -> dict:
    """Run in the Evidently venv (``--peer``): same samples, Evidently's default preset."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=["attendance_rate", "study_hours_per_week", "previous_grade",
                           "extracurricular_activities_count"],
        categorical_columns=["gender", "parental_support"],
    )
    columns = definition.numerical_columns + definition.categorical_columns
    results = {}
    for n in sizes:
        for scenario, (_, target) in SCENARIOS.items():
            dataset = any_column = column = 0
            for trial in range(trials[n]):
                reference, current = samples(n, trial, scenario, reference_rows)
                snapshot = Report([DataDriftPreset()]).run(
                    Dataset.from_pandas(current[columns], data_definition=definition),
                    Dataset.from_pandas(reference[columns], data_definition=definition),
                )
                flagged = set()
                for metric in snapshot.dict()["metrics"]:
                    config = metric["config"]
                    if config.get("type", "").endswith("DriftedColumnsCount"):
                        dataset += metric["value"]["share"] >= config["drift_share"]
                    elif "column" in config:
                        value, threshold = metric["value"], config["threshold"]
                        drifted = value < threshold if "p_value" in config["method"] else value >= threshold
                        if drifted:
                            flagged.add(config["column"])
                any_column += bool(flagged)
                column += target in flagged if target else 0
            results[f"{n}|{scenario}"] = {
                "dataset": dataset / trials[n], "any": any_column / trials[n],
                "column": column / trials[n], "trials": trials[n],
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--trials-scale", type=float, default=1.0, help="multiply the trial counts")
    parser.add_argument("--reference-rows", type=int, default=5000)
    parser.add_argument("--evidently-python", help="a Python with evidently installed")
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    trials = {n: max(1, round(TRIALS[n] * args.trials_scale)) for n in sizes}
    warnings.simplefilter("ignore")  # scipy's "exact KS failed, using asymptotic" notes
    if args.peer:
        print(json.dumps(evidently_peer(sizes, trials, args.reference_rows)))
        return 0
    peer_process = None
    if args.evidently_python:
        peer_process = subprocess.Popen(
            [args.evidently_python, __file__, "--peer", "--sizes", args.sizes,
             "--trials-scale", str(args.trials_scale), "--reference-rows", str(args.reference_rows)],
            stdout=subprocess.PIPE, text=True,
        )
    started = time.perf_counter()
    mine = ours(sizes, trials, args.reference_rows)
    peer = json.loads(peer_process.communicate()[0]) if peer_process else None
    ref = f"max(n, {args.reference_rows})" if args.reference_rows else "n (two equal samples)"
    print(f"drift detector: reference rows = {ref}; ours took {time.perf_counter() - started:.0f} s")
    print("targets: false alarms <= 5% at every n; power >= 90% from n = 300")
    head = f"{'n':>9} {'scenario':20} {'trials':>6} {'ours':>7}"
    if peer:
        head += f" {'evidently dataset':>18} {'evidently column/any':>21}"
    print(head)
    for n in sizes:
        for scenario, (_, target) in SCENARIOS.items():
            key = f"{n}|{scenario}"
            measure = "false alarms" if target is None else "power"
            line = f"{n:>9} {scenario:20} {trials[n]:>6} {mine[key]['rate']:>7.1%}"
            if peer:
                other = peer[key]
                detail = other["any"] if target is None else other["column"]
                line += f" {other['dataset']:>18.1%} {detail:>21.1%}"
            print(f"{line}   ({measure})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
