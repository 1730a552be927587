"""Prediction throughput (1M rows with intervals and probabilities) and training time (100k rows).

Trains the default model selection on ``--train-rows`` generated students (the issue's bound:
under 60 s for 100k rows on 2 cores), then times ``TrainedModel.predict`` on ``--rows`` rows
(target: at least 200,000 rows/s), both for the selected model and for each model family
forced alone, so the cost of whichever family wins is visible.

    uv run python bench/predict_throughput.py [--rows 1000000] [--train-rows 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradewatch.models.training import FAMILIES, SearchConfig, TrainedModel, train_model
from tests.support.gradegen import make_semester


def time_predict(model: TrainedModel, rows: int, repeats: int) -> float:
    frame = make_semester(rows, seed=99)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        predicted = model.predict(frame, 60)
        best = min(best, time.perf_counter() - started)
    assert len(predicted) == rows and predicted["interval_lower"].notna().all()
    return rows / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of N timings")
    parser.add_argument("--per-family", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    train = make_semester(args.train_rows, seed=1)
    started = time.perf_counter()
    model = train_model(train)
    seconds = time.perf_counter() - started
    print(f"training on {args.train_rows:,} rows (default search, all families): {seconds:.1f} s "
          f"(search {model.metrics['search_seconds']:.1f} s) -> {model.algorithm}, "
          f"CV MAE {model.metrics['cv_mae']:.2f}; target < 60 s")
    rate = time_predict(model, args.rows, args.repeats)
    print(f"predict {args.rows:,} rows with intervals, selected model ({model.algorithm}): "
          f"{rate:,.0f} rows/s; target >= 200,000")
    if args.per_family:
        for family in FAMILIES:
            alone = train_model(train, config=SearchConfig(families=(family,), n_iter=1, cv=3))
            rate = time_predict(alone, args.rows, args.repeats)
            print(f"  {family:24} {rate:>12,.0f} rows/s   {alone.parameters}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
