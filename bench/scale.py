"""Cost curves (issue 16): uploads, sensor ticks and semester runs from one school to a district.

Everything runs through the code the platform runs, on scratch databases (a PostgreSQL database
``gw_bench_<random>`` dropped at the end, a SQLite file in a temporary folder), with no mock:

uploads   for each size in ``--rows`` (rows per semester) and each backend in ``--backends``:
          the first upload of a new semester, the same file again (unchanged re-upload) and a file
          whose every row changed (changed re-upload), each through ``ingest_csv``, the function
          ``POST /update-csv`` calls. ``--repeat`` rounds, each on a new semester of the same
          database (so the database holds ``rounds`` semesters at the end). Each figure is
          printed with its ratio to a plain bulk load of the same rows measured in the same
          round: PostgreSQL ``COPY ... FROM STDIN (FORMAT csv)`` into a bare scratch table;
          SQLite has no COPY, so its baseline is one ``executemany`` INSERT into a bare table.
concurrent  ``--concurrent`` uploads of 30k rows (each changed differently) posted at once to a
          real ``gradewatch serve`` (waitress, 8 threads) over one SQLite semester holding
          those 30k students: every status code and wall time, and each one's wait (wall time
          minus the median time of one such upload alone, measured first through the same server).
sensors   for each count in ``--semesters``: ``--rows-per-semester`` rows per semester
          COPied into ``student_reports`` (PostgreSQL), ``semester_versions`` recounted as an
          upload would, then ``semester_sensor`` and ``final_grades_sensor`` evaluated on a real
          temporary Dagster instance (first tick, then steady ticks, as bench/sensor_tick.py),
          with every statement they issue captured: none may name a per-student table.
runs      for each size in ``--run-rows`` (PostgreSQL): a champion is seeded, the semester is
          uploaded (generated with 2% human errors) and ``semester_job`` (clean -> drift ->
          predict -> estimate) is executed through Dagster; then the same semester is uploaded
          again with its final grades and ``evaluation_job`` is executed (performance, drift,
          training set, retraining decision and, if it decides so, training).
inbox     an export of ``--inbox-megabytes`` MB (the indicators plus the identifying columns an
          export carries, which intake drops) dropped into ``GRADEWATCH_INBOX_DIR``, on both
          backends: every ``csv_inbox_sensor`` tick until it requests the file's run, then that
          ``inbox_ingest_job`` run executed through Dagster; the first export of a semester, then
          the same export with every row changed; each run's receipt is checked.

Every figure is a median over ``--repeat`` rounds (fewer where a flag says so), printed with the
load average when it was measured; the results go to ``--json`` and the plot to ``--plot``.

    uv run python bench/scale.py                 # the full sweep (about half an hour here)
    uv run python bench/scale.py --quick         # 10k and 100k only, 10 and 100 semesters
    uv run python bench/scale.py --only uploads --rows 30000 100000 --backends sqlite
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg

from bench.ingest import generate as generate_uploads
from bench.pipeline import dagster_step_seconds, fresh_upload, seed_champion
from bench.sensor_tick import COPY_COLUMNS, graded_share, semester_rows
from bench.support import load_average, scratch_database, timed
from gradewatch.intake.ingest import ingest_csv
from gradewatch.semesters import Period
from gradewatch.storage import make_engine
from gradewatch.storage.db import is_postgres
from gradewatch.storage.partitions import ensure_semester_partitions
from gradewatch.storage.semesters import lock_semester, record_semester_change
from gradewatch.storage.tables import model_versions
from gradewatch.storage.tokens import create_token
from gradewatch.synthetic.config import GeneratorConfig
from gradewatch.synthetic.generator import generate as generate_semesters
from gradewatch.synthetic.generator import semester_periods
from gradewatch_assets.definitions import build_definitions
from gradewatch_assets.inbox import csv_inbox_sensor
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.sensors import final_grades_sensor, semester_sensor
from tests.support.server import running_server

PER_STUDENT_TABLES = ("student_reports", "cleaned_features", "grade_predictions")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Dagster's console logger prints every event at DEBUG: keep the figures readable.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def load() -> float:
    return os.getloadavg()[0]


@dataclass
class Figure:
    """One measured quantity: every round's seconds, the baseline's, and the 1-min load of each."""

    section: str
    what: str
    backend: str
    size: int  # rows per semester, or semesters for the sensor tick
    seconds: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def ratio(self) -> float | None:
        return self.median / statistics.median(self.baseline) if self.baseline else None

    def line(self) -> str:
        ratio = f"  {self.ratio:5.1f}x baseline ({statistics.median(self.baseline):.3f} s)" if self.baseline else ""
        spread = f"[{min(self.seconds):.3f}-{max(self.seconds):.3f}]" if len(self.seconds) > 1 else ""
        loads = f"load {min(self.loads):.1f}-{max(self.loads):.1f}" if self.loads else ""
        return (f"{self.section:8} {self.backend:10} {self.size:>9,} {self.what:34} median {self.median:8.3f} s "
                f"{spread:17} n={len(self.seconds)}{ratio}  {loads} {self.note}")


RESULTS: list[Figure] = []


def record(figure: Figure) -> Figure:
    RESULTS.append(figure)
    print(figure.line(), flush=True)
    return figure


# --- databases ----------------------------------------------------------------------------------


@contextmanager
def database(backend: str, admin_url: str) -> Iterator[str]:
    """A migrated scratch database of ``backend``; gone afterwards."""
    if backend == "postgresql":
        with scratch_database(None, admin_url) as url:
            yield url
        return
    with (tempfile.TemporaryDirectory(prefix="gw_scale_") as folder,
          scratch_database(f"sqlite:///{folder}/gradewatch.db", admin_url) as url):
        yield url


def period_of(index: int) -> Period:
    """A distinct semester per index (one round of uploads gets a new one)."""
    start = date(2000, 1, 10) + timedelta(days=200 * index)
    return Period(start, start + timedelta(days=150))


def plain_bulk_load(engine: sa.Engine, frame: pd.DataFrame, csv_text: str) -> float:
    """The floor an upload is compared with: the same rows into a bare table of this backend."""
    table = f"bench_plain_{uuid.uuid4().hex[:8]}"
    ddl = (f"CREATE TABLE {table} (user_id text, gender text, attendance_rate float8, "
           "study_hours_per_week float8, previous_grade float8, extracurricular_activities_count int, "
           "parental_support text)")
    with engine.connect() as conn:
        conn.exec_driver_sql(ddl)
        conn.commit()
        driver = conn.connection.driver_connection
        if is_postgres(conn):
            started = time.perf_counter()
            with driver.cursor() as cursor, cursor.copy(
                    f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(csv_text)
            driver.commit()
        else:
            started = time.perf_counter()
            # Python values, as the upload's staging hands them to sqlite3 (numpy scalars are slower)
            records = list(zip(*(frame[c].tolist() for c in frame.columns), strict=True))
            driver.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)", records)
            driver.commit()
        seconds = time.perf_counter() - started
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.commit()
    return seconds


def changed(frame: pd.DataFrame, step: int) -> pd.DataFrame:
    """Every row changed (study hours moved by a tenth, within the valid range)."""
    hours = frame["study_hours_per_week"].to_numpy()
    moved = np.where(hours + 0.1 * step <= 30, hours + 0.1 * step, hours - 0.1 * step)
    return frame.assign(study_hours_per_week=np.round(moved, 1))


# --- uploads ------------------------------------------------------------------------------------


def bench_uploads(backend: str, sizes: list[int], repeat: int, admin_url: str) -> None:
    for size in sizes:
        rounds = repeat if size < 1_000_000 else max(1, min(repeat, 3))
        with database(backend, admin_url) as url:
            engine = make_engine(url)
            frame = generate_uploads(size, seed=size)
            payload = frame.to_csv(index=False).encode()
            changed_payload = changed(frame, 1).to_csv(index=False).encode()
            figures = {name: Figure("uploads", name, backend, size) for name in
                       ("first upload", "unchanged re-upload", "changed re-upload (all rows)")}
            for round_ in range(rounds):
                period = period_of(round_)
                baseline = plain_bulk_load(engine, frame, payload.decode())
                for name, raw, expect in (("first upload", payload, "inserted"),
                                          ("unchanged re-upload", payload, "unchanged"),
                                          ("changed re-upload (all rows)", changed_payload, "updated")):
                    result, seconds = timed(lambda raw=raw, period=period, engine=engine:
                                            ingest_csv(engine, raw, period, source="api", token_name="bench"))
                    got = result.to_dict()[expect]
                    assert got == size, f"{name}: {expect} {got} of {size}"
                    figures[name].seconds.append(seconds)
                    figures[name].baseline.append(baseline)
                    figures[name].loads.append(load())
            for figure in figures.values():
                record(figure)
            engine.dispose()


def bench_concurrent(uploads: int, rows: int, admin_url: str) -> None:
    """``uploads`` changed 30k-row files posted at once to one SQLite semester through a real server."""
    with database("sqlite", admin_url) as url, tempfile.TemporaryDirectory() as work:
        engine = make_engine(url)
        token = create_token(engine, "bench", frozenset({"upload"}))
        frame = generate_uploads(rows, seed=3)
        period = period_of(0)
        form = {"start_date_period": period.start.isoformat(), "end_date_period": period.end.isoformat()}

        def post(base: str, payload: bytes) -> tuple[int, float, dict]:
            started = time.perf_counter()
            answer = requests.post(f"{base}/update-csv", headers={"Authorization": f"Bearer {token}"},
                                   data=form, files={"file": ("bench.csv", io.BytesIO(payload))}, timeout=3600)
            return answer.status_code, time.perf_counter() - started, answer.json()

        with running_server(url, Path(work), threads=8) as base:
            status, _, body = post(base, frame.to_csv(index=False).encode())
            assert status == 200 and body["inserted"] == rows, body
            alone = Figure("upload", f"one {rows // 1000}k changed re-upload alone (HTTP)", "sqlite", rows)
            for step in range(1, 4):
                status, seconds, body = post(base, changed(frame, step).to_csv(index=False).encode())
                assert status == 200 and body["updated"] == rows, body
                alone.seconds.append(seconds)
                alone.loads.append(load())
            record(alone)
            payloads = [changed(frame, 10 + k).to_csv(index=False).encode() for k in range(uploads)]
            outcomes: list[tuple[int, float, dict]] = [(0, 0.0, {})] * uploads
            barrier = threading.Barrier(uploads)

            def client(k: int) -> None:
                barrier.wait()
                outcomes[k] = post(base, payloads[k])

            threads = [threading.Thread(target=client, args=(k,)) for k in range(uploads)]
            load_at = load()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        codes = [code for code, _, _ in outcomes]
        walls = sorted(seconds for _, seconds, _ in outcomes)
        waits = [w - alone.median for w in walls]
        bound = uploads * alone.median  # the others' run time plus its own, for the last in line
        figure = record(Figure("upload", f"{uploads} concurrent {rows // 1000}k uploads, slowest", "sqlite", rows,
                               seconds=[max(walls)], loads=[load_at],
                               note=f"statuses {codes}; wall times {', '.join(f'{w:.2f}' for w in walls)} s"))
        ok = all(code == 200 for code in codes) and max(walls) <= bound
        print(f"    waits (wall - alone median): {', '.join(f'{w:.2f}' for w in waits)} s; "
              f"bound {uploads} x alone = {bound:.2f} s: {'met' if ok else 'MISSED'}")
        figure.note += f"; waits {', '.join(f'{w:.2f}' for w in waits)} s; bound {bound:.2f} s"
        engine.dispose()


# --- sensors ------------------------------------------------------------------------------------


def load_semesters(engine: sa.Engine, semesters: int, per_semester: int, seed: int) -> float:
    """COPY ``per_semester`` rows into each of ``semesters`` semesters; recount semester_versions."""
    rng = np.random.default_rng(seed)
    periods = semester_periods(semesters, first_year=2000 - semesters // 2)
    started = time.perf_counter()
    for index, period in enumerate(periods):
        frame = semester_rows(index, period.start, period.end, per_semester,
                              graded_share(index, semesters), rng)
        with engine.begin() as conn:
            now = pd.Timestamp.now(tz="UTC").to_pydatetime()
            lock_semester(conn, period, now)
            ensure_semester_partitions(conn, period)
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False, na_rep="")
            with conn.connection.driver_connection.cursor() as cursor, cursor.copy(
                    f"COPY student_reports ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            record_semester_change(conn, period, now)
    with engine.begin() as conn:
        conn.execute(model_versions.insert().values(
            version="v1", algorithm="ridge", parameters={}, feature_spec={}, training_semesters=[],
            metrics={}, artifact=b"-", artifact_sha256="-", status="champion",
            trained_at=pd.Timestamp.now(tz="UTC").to_pydatetime()))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, resources: dict,
             cursor: str | None) -> tuple[dg.SensorResult, float]:
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        return timed(lambda: sensor(context))


def bench_sensors(counts: list[int], per_semester: int, ticks: int, admin_url: str) -> None:
    for semesters in counts:
        with database("postgresql", admin_url) as url:
            gradewatch = GradewatchResource(database_url=url)
            engine = gradewatch.engine()
            seconds = load_semesters(engine, semesters, per_semester, seed=semesters)
            rows = semesters * per_semester
            print(f"  loaded {rows:,} rows over {semesters} semesters (COPY, recount, ANALYZE) in {seconds:.1f} s",
                  flush=True)
            resources = {"gradewatch": gradewatch}
            for sensor in (semester_sensor, final_grades_sensor):
                first = Figure("sensor", f"{sensor.name} first tick", "postgresql", semesters,
                               note=f"{rows:,} rows")
                steady = Figure("sensor", f"{sensor.name} steady tick", "postgresql", semesters,
                                note=f"{rows:,} rows")
                with dg.instance_for_test() as instance, statements(engine) as issued:
                    result, _ = evaluate(sensor, instance, resources, None)  # the pool's first connection
                    for _ in range(ticks):
                        result, seconds = evaluate(sensor, instance, resources, None)
                        first.seconds.append(seconds)
                        first.loads.append(load())
                    for request in result.dynamic_partitions_requests or []:
                        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
                    for _ in range(ticks):
                        again, seconds = evaluate(sensor, instance, resources, result.cursor)
                        assert not again.run_requests and not again.dynamic_partitions_requests
                        steady.seconds.append(seconds)
                        steady.loads.append(load())
                touching = [s for s in issued if any(t in s for t in PER_STUDENT_TABLES)]
                assert not touching, f"{sensor.name} read a per-student table: {touching[0][:200]}"
                first.note += f"; {len(result.run_requests or [])} runs requested"
                steady.note += f"; {len(issued)} statements over all ticks, none on a per-student table"
                record(first)
                record(steady)


# --- semester and evaluation runs --------------------------------------------------------------


def execute(job: dg.JobDefinition, period: Period, instance: dg.DagsterInstance,
            ) -> tuple[dg.ExecuteInProcessResult, float]:
    """One run of ``job`` for ``period`` through Dagster, as the run worker executes it."""
    result, seconds = timed(lambda: job.execute_in_process(partition_key=period.key, instance=instance,
                                                           run_config=QUIET))
    assert result.success, f"{job.name} failed"
    return result, seconds


def bench_runs(sizes: list[int], repeat: int, admin_url: str) -> None:
    for size in sizes:
        rounds = repeat if size < 1_000_000 else max(1, min(repeat, 3))
        with database("postgresql", admin_url) as url:
            resource = GradewatchResource(database_url=url)
            engine = resource.engine()
            seed_champion(engine, 20_000, seed=7)
            config = GeneratorConfig(semesters=1, students=size, seed=7, error_rate=0.02, file_error_rate=0.0,
                                     first_year=2025)
            ungraded = generate_semesters(config)[0]
            graded = generate_semesters(GeneratorConfig(**{**asdict(config), "with_final_grades": True}))[0]
            period, raw, graded_raw = ungraded.period, ungraded.csv_bytes(), graded.csv_bytes()
            definitions = build_definitions(resource)
            semester_job = definitions.resolve_job_def("semester_job")
            evaluation_job = definitions.resolve_job_def("evaluation_job")
            run = Figure("runs", "semester run (Dagster)", "postgresql", size)
            evaluation = Figure("runs", "evaluation run (Dagster)", "postgresql", size)
            # The baseline: a plain COPY of as many clean rows (the generated export's headers
            # and human errors are the upload's business, not COPY's).
            frame = generate_uploads(size, seed=size)
            frame_csv = frame.to_csv(index=False)
            for round_ in range(rounds):
                with dg.instance_for_test() as instance:
                    instance.add_dynamic_partitions("semester", [period.key])
                    fresh_upload(engine, raw, period)
                    baseline = plain_bulk_load(engine, frame, frame_csv)
                    result, seconds = execute(semester_job, period, instance)
                    assert result.success
                    steps = dagster_step_seconds(instance, result.run_id)
                    run.seconds.append(seconds)
                    run.baseline.append(baseline)
                    run.loads.append(load())
                    print(f"    round {round_ + 1}: semester run {seconds:.2f} s "
                          f"({', '.join(f'{k} {v:.2f}' for k, v in steps.items())}) (load {load():.2f})", flush=True)
                    ingest_csv(engine, graded_raw, period, source="api", token_name="bench")
                    result, seconds = execute(evaluation_job, period, instance)
                    assert result.success
                    evaluation.seconds.append(seconds)
                    evaluation.baseline.append(baseline)
                    evaluation.loads.append(load())
                    eval_steps = dagster_step_seconds(instance, result.run_id)
                    print(f"    round {round_ + 1}: evaluation run {seconds:.2f} s "
                          f"({', '.join(f'{k} {v:.2f}' for k, v in eval_steps.items())}) (load {load():.2f})",
                          flush=True)
            record(run)
            record(evaluation)


# --- a big export in the inbox ------------------------------------------------------------------

SENSOR_TIMEOUT_SECONDS = 60  # Dagster's default for one sensor evaluation
FIRST_NAMES = np.array(["Ana", "Bram", "Chloe", "Dmitri", "Esra", "Femi", "Giulia", "Hamid", "Ines", "Jonas"])
LAST_NAMES = np.array(["Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Haddad", "Silva", "Kowalski"])


def with_identity(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The export as a student information system writes it: the indicators plus identifying
    columns that intake drops at the header (names, e-mail, phone, address)."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    first, last = rng.choice(FIRST_NAMES, n), rng.choice(LAST_NAMES, n)
    number = np.arange(n).astype(str)
    email = np.char.add(np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last)),
                        np.char.add(number, "@pupils.example.org"))
    identity = pd.DataFrame({"first_name": first, "last_name": last, "email": email,
                             "phone": np.char.add("+44 7700 ", rng.integers(100000, 999999, n).astype(str)),
                             "street_address": np.char.add(rng.integers(1, 300, n).astype(str), " Harbour Road")})
    return pd.concat([frame.iloc[:, :1], identity, frame.iloc[:, 1:]], axis=1)


def export_of_size(megabytes: float, seed: int) -> tuple[int, pd.DataFrame]:
    """An export of about ``megabytes`` MB (10^6 bytes) of CSV, and its number of students."""
    sample = with_identity(generate_uploads(10_000, seed), seed)
    per_row = len(sample.to_csv(index=False).encode()) / len(sample)
    rows = int(megabytes * 1e6 / per_row)
    return rows, with_identity(generate_uploads(rows, seed), seed)


def launch(job: dg.JobDefinition, instance: dg.DagsterInstance, request: dg.RunRequest,
           ) -> tuple[dg.ExecuteInProcessResult, float]:
    """The run a sensor requested, executed as the daemon would launch it (its config and tags)."""
    return timed(lambda: job.execute_in_process(run_config={**request.run_config, **QUIET}, instance=instance,
                                                tags={**request.tags, "dagster/run_key": request.run_key}))


def bench_inbox(backends: list[str], megabytes: float, repeat: int, admin_url: str) -> None:
    """A ``megabytes`` MB export dropped into the inbox: the sensor's ticks, then its run.

    Per backend and round, on a new semester of one scratch database: the first export, then
    the same export with every row changed (the fortnightly re-upload). Each is dropped into
    ``GRADEWATCH_INBOX_DIR``; ``csv_inbox_sensor`` is evaluated on a real Dagster instance until
    it requests the file's run (a first look notes the file, the next claims it), each tick
    timed; the requested ``inbox_ingest_job`` run is executed through Dagster and timed.
    """
    rows, frame = export_of_size(megabytes, seed=16)
    exports = {"first export": frame.to_csv(index=False).encode(),
               "changed re-export": changed(frame, 1).to_csv(index=False).encode()}
    print(f"    {rows:,} students, {len(exports['first export']) / 1e6:.1f} MB per export", flush=True)
    for backend in backends:
        with database(backend, admin_url) as url, tempfile.TemporaryDirectory(prefix="gw_inbox_") as folder:
            inbox = Path(folder)
            os.environ["GRADEWATCH_INBOX_DIR"] = str(inbox)
            resource = GradewatchResource(database_url=url)
            job = build_definitions(resource).resolve_job_def("inbox_ingest_job")
            ticks = {name: Figure("inbox", f"sensor tick, {name}", backend, rows) for name in exports}
            runs = {name: Figure("inbox", f"ingest run, {name}", backend, rows) for name in exports}
            for round_ in range(repeat):
                period = period_of(round_)
                with dg.instance_for_test() as instance:
                    cursor = None
                    for name, payload in exports.items():
                        (inbox / f"{period.key}_export.csv").write_bytes(payload)
                        requests_made: list[dg.RunRequest] = []
                        for _ in range(3):  # note, claim (and one spare)
                            result, seconds = evaluate(csv_inbox_sensor, instance, {"gradewatch": resource},
                                                       cursor)
                            cursor = result.cursor
                            ticks[name].seconds.append(seconds)
                            ticks[name].loads.append(load())
                            if requests_made := list(result.run_requests or []):
                                break
                        [request] = requests_made
                        outcome, seconds = launch(job, instance, request)
                        assert outcome.success, f"{name}: the inbox run failed"
                        [output] = [e for e in outcome.all_events if e.is_successful_output]
                        receipt = {k: v.value for k, v in output.step_output_data.metadata.items()}
                        expect = "inserted" if name == "first export" else "updated"
                        assert receipt["status"] == "ingested" and receipt[expect] == rows, receipt
                        runs[name].seconds.append(seconds)
                        runs[name].loads.append(load())
            for figure in (*ticks.values(), *runs.values()):
                figure.note = f"sensor timeout {SENSOR_TIMEOUT_SECONDS} s" if "tick" in figure.what else ""
                record(figure)
            os.environ.pop("GRADEWATCH_INBOX_DIR", None)


# --- plot ---------------------------------------------------------------------------------------


def plot(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    uploads, sensors, runs = axes
    for backend, style in (("postgresql", "-"), ("sqlite", "--")):
        for what, marker in (("first upload", "o"), ("unchanged re-upload", "s"),
                             ("changed re-upload (all rows)", "^")):
            points = sorted((f.size, f.median) for f in RESULTS
                            if f.section == "uploads" and f.backend == backend and f.what == what)
            if points:
                uploads.plot(*zip(*points, strict=True), style, marker=marker, label=f"{backend}: {what}")
        base = sorted((f.size, statistics.median(f.baseline)) for f in RESULTS
                      if f.section == "uploads" and f.backend == backend and f.what == "first upload")
        if base:
            label = "postgresql: plain COPY" if backend == "postgresql" else "sqlite: plain executemany"
            uploads.plot(*zip(*base, strict=True), style, color="black", alpha=0.5, label=label)
    uploads.set(xscale="log", yscale="log", xlabel="rows per semester", ylabel="seconds (median)",
                title="Uploads through ingest_csv")
    uploads.legend(fontsize=7)
    for name in ("semester_sensor", "final_grades_sensor"):
        for kind, marker in (("first tick", "o"), ("steady tick", "s")):
            points = sorted((f.size, f.median * 1000) for f in RESULTS
                            if f.section == "sensor" and f.what == f"{name} {kind}")
            if points:
                sensors.plot(*zip(*points, strict=True), marker=marker, label=f"{name}: {kind}")
    sensors.axhline(200, color="red", linestyle=":", label="target 200 ms")
    sensors.set(xscale="log", xlabel="semesters", ylabel="milliseconds (median)",
                title="Sensor tick (PostgreSQL)")
    sensors.legend(fontsize=7)
    for what, marker in (("semester run (Dagster)", "o"), ("evaluation run (Dagster)", "s")):
        points = sorted((f.size, f.median) for f in RESULTS if f.section == "runs" and f.what == what)
        if points:
            runs.plot(*zip(*points, strict=True), marker=marker, label=what)
    runs.axhline(30, color="red", linestyle=":", label="target 30 s (semester run, 1M)")
    runs.set(xscale="log", yscale="log", xlabel="students per semester", ylabel="seconds (median)",
             title="Runs through Dagster (PostgreSQL)")
    runs.legend(fontsize=7)
    fig.suptitle(f"GradeWatch cost curves (bench/scale.py); load average at the end {load_average()}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


# --- main ---------------------------------------------------------------------------------------


# What a bulk write's speed depends on besides the code: printed with the figures, because the
# machine's server keeps its stock settings while docker-compose.yml sets its own.
SERVER_SETTINGS = ("shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size", "synchronous_commit",
                   "wal_compression", "jit")


def server_settings(admin_url: str) -> str:
    engine = make_engine(admin_url)
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
            values = [f"{name}={conn.exec_driver_sql(f'SHOW {name}').scalar_one()}" for name in SERVER_SETTINGS]
    finally:
        engine.dispose()
    return f"{version}; " + ", ".join(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows; 10 and 100 semesters")
    parser.add_argument("--only", nargs="+", choices=("uploads", "concurrent", "sensors", "runs", "inbox"),
                        default=["uploads", "concurrent", "sensors", "runs", "inbox"])
    parser.add_argument("--backends", nargs="+", choices=("postgresql", "sqlite"), default=["postgresql", "sqlite"])
    parser.add_argument("--rows", nargs="+", type=int, help="rows per semester for the uploads "
                                                              "(default 10k 30k 100k 1M)")
    parser.add_argument("--semesters", nargs="+", type=int, help="semester counts (default 10 100 500)")
    parser.add_argument("--rows-per-semester", type=int, default=20_000,
                        help="rows per semester for the sensor tick (500 x 20k = 10M rows)")
    parser.add_argument("--run-rows", nargs="+", type=int, help="students per semester for the runs "
                                                                  "(default 10k 100k 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per figure (medians); at most 3 at 1M")
    parser.add_argument("--run-repeat", type=int, help="rounds per run figure (default --repeat)")
    parser.add_argument("--ticks", type=int, default=5, help="sensor evaluations per figure")
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--inbox-megabytes", type=float, default=100, help="size of the inbox export")
    parser.add_argument("--concurrent-rows", type=int, default=30_000)
    parser.add_argument("--postgres-admin-url", default=ADMIN_URL)
    parser.add_argument("--json", default="/tmp/gradewatch_scale.json", help="where the figures go (not committed)")
    parser.add_argument("--run-sections", action="store_true",
                        help="with --from-json: also measure the sections of --only (else only plot)")
    parser.add_argument("--from-json", nargs="+", default=[], metavar="FILE",
                        help="add the figures of earlier runs (their --json) to the table and the plot")
    parser.add_argument("--plot", default=str(Path(__file__).resolve().parents[1] / "docs" / "scale_curves.png"))
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that scratch databases are dropped

    quick = args.quick
    rows = args.rows or ([10_000, 30_000, 100_000] if quick else [10_000, 30_000, 100_000, 1_000_000])
    semesters = args.semesters or ([10, 100] if quick else [10, 100, 500])
    run_rows = args.run_rows or ([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
    for earlier in args.from_json:
        for item in json.loads(Path(earlier).read_text()):
            item.pop("median"), item.pop("ratio")
            RESULTS.append(Figure(**item))
    print(f"load average at start: {load_average()}", flush=True)
    if "postgresql" in args.backends or {"sensors", "runs"} & set(args.only):
        print(f"PostgreSQL server: {server_settings(args.postgres_admin_url)}", flush=True)
    started = time.perf_counter()
    sections: dict[str, Callable[[], None]] = {
        "uploads": lambda: [bench_uploads(b, rows, args.repeat, args.postgres_admin_url) for b in args.backends],
        "concurrent": lambda: bench_concurrent(args.concurrent, args.concurrent_rows, args.postgres_admin_url),
        "sensors": lambda: bench_sensors(semesters, args.rows_per_semester, args.ticks, args.postgres_admin_url),
        "runs": lambda: bench_runs(run_rows, args.run_repeat or args.repeat, args.postgres_admin_url),
        "inbox": lambda: bench_inbox(args.backends, args.inbox_megabytes, args.repeat, args.postgres_admin_url),
    }
    try:
        for name in args.only if not args.from_json or args.run_sections else []:
            print(f"\n== {name} (load average {load_average()})", flush=True)
            sections[name]()
    finally:
        print(f"\nall figures ({time.perf_counter() - started:.0f} s in all; load average at the end "
              f"{load_average()}):")
        for figure in RESULTS:
            print(figure.line())
        Path(args.json).write_text(json.dumps([{**asdict(f), "median": f.median, "ratio": f.ratio}
                                               for f in RESULTS], indent=1))
        if RESULTS:
            plot(Path(args.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
