"""What reasons cost: a 100k-student prediction run with and without them (issue 15: <= +50%).

For each model family, a model trained on ``--train-students`` generated students becomes the
champion, a semester of ``--students`` students is stored and cleaned, and
``pipeline.predict_semester`` (load the cleaned rows, predict, record every prediction and
update the reports, in one transaction) runs ``--repeat`` times with reasons and as often
without, alternating. Prints the medians, the overhead and the load average. Runs on a scratch
PostgreSQL database (dropped at the end) or on ``--database-url`` (e.g. a new SQLite file).

Beside the wall-clock time it prints this process's CPU time (all its threads): on a machine
shared with other work the wall clock of one run moves by tens of percent with the load, its
CPU time much less. With SQLite the database work is in this process, so the CPU ratio covers
the whole run; with PostgreSQL the server's share is not in it, so the CPU ratio overstates
the overhead (the denominator lacks the same database work both runs do).

    uv run python bench/reasons_cost.py [--database-url sqlite:////tmp/gw_reasons.db]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support import load_average, scratch_database, timed
from gradewatch.intake.ingest import ingest_csv
from gradewatch.models.explain import explain_model
from gradewatch.models.registry import load_champion, promote, register_model
from gradewatch.models.training import SearchConfig, train_model
from gradewatch.pipeline import clean_semester_rows, predict_semester
from gradewatch.semesters import Period
from gradewatch.settings import load_settings
from gradewatch.storage import make_engine
from gradewatch.synthetic.generator import simulate_students

SEMESTER = Period(date(2026, 1, 12), date(2026, 6, 30))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--train-students", type=int, default=20_000)
    parser.add_argument("--families", default="ridge,hist_gradient_boosting,random_forest")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(15)
    train = simulate_students(rng, np.array([f"T{i:06d}" for i in range(args.train_students)], dtype=object))
    semester = simulate_students(rng, np.array([f"S{i:06d}" for i in range(args.students)], dtype=object),
                                 with_final_grades=False).drop(columns=["final_grade"])
    with scratch_database(args.database_url, args.postgres_admin_url) as url:
        engine = make_engine(url)
        settings = load_settings({"GRADEWATCH_DATABASE_URL": url})
        ingest_csv(engine, semester.to_csv(index=False).encode(), SEMESTER, source="api", token_name="bench")
        clean_semester_rows(engine, SEMESTER)
        print(f"{engine.dialect.name}, {args.students} students, load average before: {load_average()}")
        for family in args.families.split(","):
            model = train_model(train, config=SearchConfig(families=(family,), n_iter=1, cv=3), seed=15)
            promote(engine, register_model(engine, model, [SEMESTER]))
            # The run must explain, not just carry empty reasons (a loaded champion once had no
            # typical values, and "with reasons" then cost nothing).
            champion = load_champion(engine)
            assert champion is not None and any(explain_model(champion.model, semester.head(200),
                                                              excluded=settings.model_excluded_features
                                                              ).as_lists())
            times: dict[bool, list[float]] = {True: [], False: []}
            cpu: dict[bool, list[float]] = {True: [], False: []}
            for round_ in range(args.repeat):
                for with_reasons in ((True, False) if round_ % 2 == 0 else (False, True)):
                    started = time.process_time()
                    outcome, seconds = timed(lambda w=with_reasons: predict_semester(
                        engine, SEMESTER, settings, with_reasons=w))
                    cpu[with_reasons].append(time.process_time() - started)
                    assert outcome.predicted == args.students
                    times[with_reasons].append(seconds)
            plain, reasons = statistics.median(times[False]), statistics.median(times[True])
            plain_cpu, reasons_cpu = statistics.median(cpu[False]), statistics.median(cpu[True])
            print(f"  {family:24s} without reasons {plain:6.2f} s, with reasons {reasons:6.2f} s "
                  f"(median of {args.repeat}): {100 * (reasons / plain - 1):+.0f}%; CPU time "
                  f"{plain_cpu:6.2f} s / {reasons_cpu:6.2f} s: {100 * (reasons_cpu / plain_cpu - 1):+.0f}%  "
                  f"[load average {load_average()}]", flush=True)
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
