"""Pipeline benchmark: one N-student semester through clean -> drift -> predict.

Creates a scratch PostgreSQL database ``gw_bench_<random>`` (dropped at the end), or uses
``--database-url`` (e.g. a new SQLite file), migrated with the real migrations. Seeds a
champion (QUICK_SEARCH trained on a generated graded semester, registered and promoted) so that
drift and predictions really run, then uploads the semester through the real upload path
(``ingest_csv``, human errors included). Then:

(a) the core functions each asset wraps, called directly: the work itself;
(b) the same semester materialized through Dagster (``semester_job`` on a real temporary
    instance, partition added first; the job also observes ``student_reports``, so (a) times
    ``semester_status`` too);

``--repeat`` rounds of both (alternating which goes first; before each, the semester's tables
are emptied and the file uploaded again, so that each starts from a semester just uploaded, as
when the sensor fires), and prints the median per-step seconds, the totals (process start-up,
database creation, seeding and the upload excluded) and the Dagster overhead = (b) - (a).
Target: at most 30 s.

    uv run python bench/pipeline.py [--students 100000]
    uv run python bench/pipeline.py --database-url sqlite:////tmp/gw_bench.db

``--profile FILE`` writes a cProfile of each (a) and (b) and prints the top functions
(the profiler slows Dagster's own code more than GradeWatch's: read overheads without it).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import signal
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg

from bench.support import load_average, scratch_database, timed
from gradewatch import pipeline
from gradewatch.intake.ingest import IngestResult, ingest_csv
from gradewatch.models.registry import promote, register_model
from gradewatch.models.training import train_model
from gradewatch.retraining import QUICK_SEARCH
from gradewatch.semesters import Period
from gradewatch.storage.partitions import drop_semester
from gradewatch.storage.semesters import semester_status
from gradewatch.storage.tables import drift_metrics, student_reports, uploads
from gradewatch.synthetic.config import GeneratorConfig
from gradewatch.synthetic.generator import generate, simulate_students
from gradewatch_assets.definitions import build_definitions
from gradewatch_assets.resources import GradewatchResource

T = TypeVar("T")
TARGET_SECONDS = 30.0
TRAIN_PERIOD = Period.from_key("2024-01-12_2024-06-30")
ASSET_STEPS = ("student_reports", "cleaned_features", "drift_metrics", "grade_predictions")


def process_age_seconds() -> float:
    """Seconds since this process started (the interpreter, imports included)."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
    return boot_uptime - ticks / os.sysconf("SC_CLK_TCK")


def seed_champion(engine: sa.Engine, students: int, seed: int) -> str:
    """Train a QUICK_SEARCH model on a generated graded semester; register and promote it."""
    ids = np.array([f"T{i:07d}" for i in range(students)], dtype=object)
    frame = simulate_students(np.random.default_rng(seed), ids, with_final_grades=True)
    trained = train_model(frame, config=QUICK_SEARCH, seed=seed)
    version = register_model(engine, trained, [TRAIN_PERIOD])
    promote(engine, version)
    return version


def fresh_upload(engine: sa.Engine, raw: bytes, period: Period) -> IngestResult:
    """Remove the semester (on PostgreSQL its partitions are dropped, as retention does) and
    upload it again, so that every (a) and (b) starts from the same state: a semester's first
    upload, as a school makes it (on PostgreSQL into a new partition). The champion stays."""
    drop_semester(engine, period)
    names = [t.name for t in (drift_metrics, uploads)]
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f"DELETE FROM {name}")
    return ingest_csv(engine, raw, period, source="api", token_name="bench")


def dagster_step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds between STEP_START and STEP_SUCCESS/FAILURE of each step, from the event log."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            seconds[entry.step_key] = entry.timestamp - started[entry.step_key]
    return seconds


def run_direct(engine: sa.Engine, period: Period, resource: GradewatchResource) -> dict[str, float]:
    settings = resource.settings()
    seconds: dict[str, float] = {}
    _status, seconds["student_reports"] = timed(lambda: semester_status(engine, period))
    cleaned, seconds["cleaned_features"] = timed(lambda: pipeline.clean_semester_rows(engine, period))
    drift, seconds["drift_metrics"] = timed(lambda: pipeline.measure_drift(engine, period))
    predicted, seconds["grade_predictions"] = timed(lambda: pipeline.predict_semester(engine, period, settings))
    assert drift.report is not None, drift.reason
    assert predicted.predicted > 0, predicted.reason
    report = cleaned.report
    seconds["total"] = sum(seconds.values())
    print(f"  (a) direct: {seconds['total']:.2f} s; rows in {report.rows_in:,}, out {report.rows_out:,}, "
          f"imputed {report.imputed:,}, excluded {report.excluded:,}; drifted features: "
          f"{', '.join(drift.report.drifted_features) or 'none'}; predicted {predicted.predicted:,} "
          f"({predicted.at_risk:,} at risk) with {predicted.model_version}")
    return seconds


def run_dagster(job: dg.JobDefinition, instance: dg.DagsterInstance, period: Period) -> dict[str, float]:
    result, total = timed(lambda: job.execute_in_process(partition_key=period.key, instance=instance))
    assert result.success
    seconds = dagster_step_seconds(instance, result.run_id)
    seconds["total"] = total
    predicted = next(e for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey("grade_predictions"))
    count = predicted.materialization.metadata["students_predicted"].value
    print(f"  (b) dagster run {result.run_id[:8]}: {total:.2f} s; {len(seconds) - 1} steps, "
          f"{count:,} students predicted")
    return seconds


def profiled(path: str | None, label: str, call: Callable[[], T]) -> T:
    if not path:
        return call()
    profile = cProfile.Profile()
    value = profile.runcall(call)
    target = f"{path}.{label}"
    profile.dump_stats(target)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(35)
    print(f"--- cProfile of {label} (cumulative, top 35; full profile in {target}) ---")
    lines = out.getvalue().splitlines()
    print("\n".join(lines[next(i for i, line in enumerate(lines) if "ncalls" in line):]))
    return value


def main(argv: list[str] | None = None) -> int:
    startup = process_age_seconds()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty database to use instead of a PostgreSQL scratch one "
                                               "(e.g. sqlite:////tmp/gw_bench.db); migrated, not dropped")
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--train-students", type=int, default=20_000)
    parser.add_argument("--error-rate", type=float, default=0.02, help="share of rows with a human error")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of (a) and (b), in alternating order")
    parser.add_argument("--profile", metavar="FILE", help="cProfile (a) and (b) into FILE.<round>.direct / .dagster")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the scratch database is dropped

    print(f"process start-up (interpreter and imports, excluded below): {startup:.1f} s")
    print(f"load average at start: {load_average()}")
    with scratch_database(args.database_url, args.postgres_admin_url) as url:
        resource = GradewatchResource(database_url=url)
        engine = resource.engine()
        with engine.connect() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(student_reports)).scalar_one():
                raise SystemExit(f"{engine.url.render_as_string()} is not empty: give an empty database")
        print(f"database: {engine.url.render_as_string()} ({engine.dialect.name})")

        version, seconds = timed(lambda: seed_champion(engine, args.train_students, args.seed))
        print(f"seeded champion {version} (QUICK_SEARCH on {args.train_students:,} graded students): {seconds:.1f} s")
        config = GeneratorConfig(semesters=1, students=args.students, seed=args.seed, error_rate=args.error_rate,
                                 file_error_rate=0.0, first_year=2025)
        semester = generate(config)[0]
        period, raw = semester.period, semester.csv_bytes()
        result, seconds = timed(lambda: fresh_upload(engine, raw, period))
        print(f"uploaded {period.key} through ingest_csv: {result.inserted:,} rows inserted, "
              f"{result.rejected:,} rejected, {len(raw) / 2**20:.1f} MiB in {seconds:.1f} s")

        job = build_definitions(resource).resolve_job_def("semester_job")
        direct: list[dict[str, float]] = []
        dagster: list[dict[str, float]] = []
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("semester", [period.key])
            for round_ in range(args.repeat):
                # Alternate the order, so that neither side always runs on a colder cache.
                order = ("direct", "dagster") if round_ % 2 == 0 else ("dagster", "direct")
                print(f"round {round_ + 1} of {args.repeat} ({' then '.join(order)})")
                for side in order:
                    fresh_upload(engine, raw, period)
                    if side == "direct":
                        direct.append(profiled(args.profile and f"{args.profile}.{round_ + 1}", "direct",
                                               lambda: run_direct(engine, period, resource)))
                    else:
                        dagster.append(profiled(args.profile and f"{args.profile}.{round_ + 1}", "dagster",
                                                lambda: run_dagster(job, instance, period)))

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run.get(key, float("nan")) for run in runs)

    a, b = median(direct, "total"), median(dagster, "total")
    print()
    print(f"medians of {args.repeat} round(s), seconds:")
    print(f"{'step':20} {'(a) direct':>11} {'(b) dagster step':>17} {'step overhead':>14}")
    for step in ASSET_STEPS:
        print(f"{step:20} {median(direct, step):11.2f} {median(dagster, step):17.2f} "
              f"{median(dagster, step) - median(direct, step):14.2f}")
    print(f"{'total':20} {a:11.2f} {b:17.2f} {b - a:14.2f}")
    outside = statistics.median(run["total"] - sum(run[s] for s in ASSET_STEPS) for run in dagster)
    print(f"  (b) outside the steps (run start, event log writes, run end): {outside:.2f} s")
    rounds = {name: ", ".join(f"{run['total']:.2f}" for run in runs)
              for name, runs in (("direct", direct), ("dagster", dagster))}
    print(f"  totals of every round: direct {rounds['direct']}; dagster {rounds['dagster']}")
    print(f"clean -> drift -> predict, {args.students:,} students, without process start-up: "
          f"direct {a:.2f} s, through Dagster {b:.2f} s; Dagster overhead {b - a:.2f} s "
          f"({(b - a) / a:.0%}); target <= {TARGET_SECONDS:.0f} s: {'met' if b <= TARGET_SECONDS else 'MISSED'}")
    print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
