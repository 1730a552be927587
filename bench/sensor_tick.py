"""Sensor-tick benchmark: semester_sensor and final_grades_sensor over many semesters and rows.

Creates a scratch PostgreSQL database ``gw_bench_<random>`` (dropped at the end), migrated with
the real migrations, and bulk-loads ``--rows`` rows over ``--semesters`` semesters straight into
``student_reports`` with COPY (not the upload path), then ANALYZE. Most semesters are fully
graded, some partly, the newest ones not at all; a champion model row exists.

It times, on a real temporary Dagster instance with ``dg.build_sensor_context`` (median, min
and max of ``--ticks`` evaluations):

- the first tick (no cursor, no partitions: it asks for every partition and a run for every
  semester it acts on), each on a fresh instance; adding the partitions it requested (as the
  daemon would) is timed apart;
- the steady-state tick (the cursor of the first tick, partitions present: requests nothing);
- the one GROUP BY of ``semester_statuses`` alone, and its EXPLAIN ANALYZE.

Target: at most 1 s per tick. ``--try-index`` then creates a covering index in the scratch
database (not in the migrations) and times the GROUP BY and the ticks again.

    uv run python bench/sensor_tick.py [--semesters 200] [--rows 1000000] [--try-index]
"""

from __future__ import annotations

import argparse
import io
import signal
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg

from bench.support import load_average, scratch_database, timed
from gradewatch.storage.db import is_postgres
from gradewatch.storage.partitions import ensure_semester_partitions
from gradewatch.storage.semesters import semester_statuses
from gradewatch.storage.tables import model_versions
from gradewatch.synthetic.generator import semester_periods
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.sensors import final_grades_sensor, semester_sensor

TARGET_SECONDS = 1.0
COPY_COLUMNS = ("user_id", "start_date_period", "end_date_period", "gender", "attendance_rate",
                "study_hours_per_week", "previous_grade", "extracurricular_activities_count",
                "parental_support", "final_grade", "created_at", "updated_at")
COVERING_INDEX = ("CREATE INDEX ix_bench_student_reports_status ON student_reports "
                  "(start_date_period, end_date_period, updated_at) INCLUDE (final_grade)")


def semester_rows(index: int, start, end, n: int, graded_share: float, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` students of one semester; the first ``graded_share`` of them have a final grade."""
    created = pd.Timestamp(datetime.combine(start, datetime.min.time(), UTC) + timedelta(days=30))
    updated = pd.Series(created + pd.to_timedelta(rng.integers(0, 90 * 86_400, n), unit="s"))
    grades = np.round(np.clip(rng.normal(68, 14, n), 0, 100), 1)
    graded = np.arange(n) < round(graded_share * n)
    final_grade = np.where(graded, grades, np.nan)
    updated[graded] = pd.Timestamp(datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=7))
    return pd.DataFrame({
        "user_id": np.char.add(f"S{index:03d}-", np.arange(n).astype(str)),
        "start_date_period": start.isoformat(),
        "end_date_period": end.isoformat(),
        "gender": rng.choice(["female", "male", "other"], n, p=[0.49, 0.49, 0.02]),
        "attendance_rate": np.round(rng.uniform(40, 100, n), 1),
        "study_hours_per_week": np.round(rng.uniform(0, 30, n), 1),
        "previous_grade": np.round(rng.uniform(20, 100, n), 1),
        "extracurricular_activities_count": rng.integers(0, 5, n),
        "parental_support": rng.choice(["low", "medium", "high"], n),
        "final_grade": final_grade,
        "created_at": created,
        "updated_at": updated,
    })


def graded_share(index: int, semesters: int) -> float:
    """Old semesters are fully graded, then a few partly, the newest not at all."""
    if index < semesters - 20:
        return 1.0
    if index < semesters - 5:
        return 0.5
    return 0.0


def bulk_load(engine: sa.Engine, semesters: int, rows: int, seed: int) -> tuple[int, float]:
    """COPY (PostgreSQL) or executemany (SQLite) ``rows`` rows over ``semesters`` semesters."""
    rng = np.random.default_rng(seed)
    periods = semester_periods(semesters, first_year=2000 - semesters // 2)
    sizes = np.full(semesters, rows // semesters)
    sizes[: rows % semesters] += 1
    started = time.perf_counter()
    with engine.begin() as conn:
        for index, (period, n) in enumerate(zip(periods, sizes, strict=True)):
            frame = semester_rows(index, period.start, period.end, int(n), graded_share(index, semesters), rng)
            if is_postgres(conn):
                ensure_semester_partitions(conn, period)
                buffer = io.StringIO()
                frame.to_csv(buffer, index=False, header=False, na_rep="")
                raw = conn.connection.driver_connection
                with raw.cursor() as cursor, cursor.copy(
                    f"COPY student_reports ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
                ) as copy:
                    copy.write(buffer.getvalue())
            else:
                records = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
                conn.exec_driver_sql(
                    f"INSERT INTO student_reports ({', '.join(COPY_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in COPY_COLUMNS)})", list(records))
        conn.execute(model_versions.insert().values(
            version="v1", algorithm="ridge", parameters={}, feature_spec={}, training_semesters=[],
            metrics={}, artifact=b"-", artifact_sha256="-", status="champion", trained_at=datetime.now(UTC)))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE student_reports" if is_postgres(conn) else "ANALYZE")
    return int(sizes.sum()), time.perf_counter() - started


def summary(seconds: list[float]) -> str:
    verdict = "met" if statistics.median(seconds) <= TARGET_SECONDS else "MISSED"
    return (f"median {statistics.median(seconds) * 1000:8.1f} ms  min {min(seconds) * 1000:8.1f}  "
            f"max {max(seconds) * 1000:8.1f}  (n={len(seconds)}; target <= {TARGET_SECONDS * 1000:.0f} ms: "
            f"{verdict})")


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, resources: dict,
             cursor: str | None) -> tuple[dg.SensorResult, float]:
    # As a context manager: the context holds the instance only weakly otherwise.
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result, seconds = timed(lambda: sensor(context))
    return result, seconds


def apply_partitions(instance: dg.DagsterInstance, result: dg.SensorResult) -> float:
    started = time.perf_counter()
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return time.perf_counter() - started


def bench_sensor(sensor: dg.SensorDefinition, resources: dict, ticks: int) -> None:
    first: list[float] = []
    adding: list[float] = []
    result = None
    for _ in range(ticks):
        with dg.instance_for_test() as fresh:
            result, seconds = evaluate(sensor, fresh, resources, None)
            first.append(seconds)
            adding.append(apply_partitions(fresh, result))
    assert result is not None
    added = sum(len(r.partition_keys or []) for r in result.dynamic_partitions_requests or [])
    print(f"{sensor.name}: first tick (asks for {added} partitions, requests {len(result.run_requests or [])} runs)")
    print(f"  evaluation       {summary(first)}")
    print(f"  adding the {added} partitions to the instance (the daemon's part): "
          f"median {statistics.median(adding) * 1000:.1f} ms")
    with dg.instance_for_test() as instance:
        first_result, _ = evaluate(sensor, instance, resources, None)
        apply_partitions(instance, first_result)
        steady: list[float] = []
        for _ in range(ticks):
            again, seconds = evaluate(sensor, instance, resources, first_result.cursor)
            assert not again.run_requests and not again.dynamic_partitions_requests
            steady.append(seconds)
    print(f"{sensor.name}: steady-state tick (cursor of the first tick; requests nothing)")
    print(f"  evaluation       {summary(steady)}")


def bench_group_by(engine: sa.Engine, ticks: int) -> None:
    seconds = [timed(lambda: semester_statuses(engine))[1] for _ in range(ticks)]
    print(f"GROUP BY alone (semester_statuses, {len(semester_statuses(engine))} semesters): {summary(seconds)}")


def explain(engine: sa.Engine) -> None:
    """EXPLAIN ANALYZE of the exact statement semester_statuses sends."""
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        semester_statuses(engine)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(prefix + statement, parameters).all()
    print(f"plan of the GROUP BY ({prefix.strip()}):")
    for row in plan:
        print("    " + " | ".join(str(v) for v in row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--semesters", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=7, help="evaluations per measurement (median)")
    parser.add_argument("--database-url", help="an empty database to use instead of a PostgreSQL scratch one")
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--try-index", action="store_true",
                        help=f"then time again with a covering index: {COVERING_INDEX}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the scratch database is dropped

    print(f"load average at start: {load_average()}")
    with scratch_database(args.database_url, args.postgres_admin_url) as url:
        gradewatch = GradewatchResource(database_url=url)
        engine = gradewatch.engine()
        resources = {"gradewatch": gradewatch}
        rows, seconds = bulk_load(engine, args.semesters, args.rows, args.seed)
        print(f"database: {engine.url.render_as_string()} ({engine.dialect.name})")
        print(f"bulk-loaded {rows:,} rows over {args.semesters} semesters (then ANALYZE) in {seconds:.1f} s")
        semester_statuses(engine)  # the pool's first connection, as in a long-running daemon

        bench_group_by(engine, args.ticks)
        bench_sensor(semester_sensor, resources, args.ticks)
        bench_sensor(final_grades_sensor, resources, args.ticks)
        explain(engine)
        if args.try_index and is_postgres(engine):
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                _, seconds = timed(lambda: conn.exec_driver_sql(COVERING_INDEX))
                conn.exec_driver_sql("VACUUM ANALYZE student_reports")  # the visibility map, for index-only scans
            print(f"\nwith the covering index ({seconds:.1f} s to build), after VACUUM ANALYZE:\n  {COVERING_INDEX}")
            bench_group_by(engine, args.ticks)
            bench_sensor(semester_sensor, resources, args.ticks)
            bench_sensor(final_grades_sensor, resources, args.ticks)
            explain(engine)
    print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
