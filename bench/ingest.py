"""Upload benchmark: N generated rows through a real server into PostgreSQL.

Prints rows per second, the server's peak RSS, the time of a plain COPY of the same rows into a
scratch table (and the upload/COPY ratio), and a one-ORM-object-at-a-time insert of a sample
(and how many times faster the upload path is). Then, in this process, where the time of the
upload goes: parsing the file, storing it into an empty semester, re-uploading it unchanged, and
what is left for HTTP (the server's time minus the in-process one). The machine's load average
is printed too: on a shared machine every figure moves with it.

    uv run python bench/ingest.py --rows 1000000
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session, registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradewatch.intake.ingest import ingest_csv, parse_period
from gradewatch.intake.reader import read_csv_bytes
from gradewatch.storage import make_engine
from gradewatch.storage.db import utcnow
from gradewatch.storage.migrate import upgrade
from gradewatch.storage.tables import student_reports
from gradewatch.storage.tokens import create_token
from tests.support.server import running_server

PERIOD = {"start_date_period": "2026-01-12", "end_date_period": "2026-06-30"}


def generate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user_id": [f"u{i:08d}" for i in range(n)],
        "gender": rng.choice(["female", "male", "other"], n),
        "attendance_rate": rng.uniform(40, 100, n).round(1),
        "study_hours_per_week": rng.uniform(0, 30, n).round(1),
        "previous_grade": rng.uniform(20, 100, n).round(1),
        "extracurricular_activities_count": rng.integers(0, 5, n),
        "parental_support": rng.choice(["low", "medium", "high"], n),
    })


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def plain_copy_seconds(url: str, csv_text: str) -> float:
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE bench_copy (user_id text, gender text, attendance_rate float8, "
                    "study_hours_per_week float8, previous_grade float8, "
                    "extracurricular_activities_count int, parental_support text)")
        conn.commit()
        started = time.perf_counter()
        with cur.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(csv_text)
        conn.commit()
        return time.perf_counter() - started


def orm_rows_per_second(url: str, frame: pd.DataFrame) -> float:
    class Report:
        pass

    mapper_registry = registry()
    mapper_registry.map_imperatively(Report, student_reports)
    engine = make_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        now = utcnow()
        for record in frame.assign(user_id="orm-" + frame["user_id"]).to_dict("records"):
            report = Report()
            for key, value in record.items():
                setattr(report, key, value.item() if hasattr(value, "item") else value)
            report.start_date_period = pd.Timestamp(PERIOD["start_date_period"]).date()
            report.end_date_period = pd.Timestamp(PERIOD["end_date_period"]).date()
            report.created_at = report.updated_at = now
            session.add(report)
            session.flush()  # one INSERT per object, as naive ORM code does
        session.commit()
    elapsed = time.perf_counter() - started
    mapper_registry.dispose()
    engine.dispose()
    return len(frame) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-sample", type=int, default=20_000)
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(make_engine(args.postgres_admin_url).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_engine(args.postgres_admin_url).url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = make_engine(url)
        token = create_token(engine, "bench", frozenset({"upload"}))
        frame = generate(args.rows)
        csv_text = frame.to_csv(index=False)
        payload = csv_text.encode()
        print(f"rows: {args.rows:,}  file: {len(payload) / 2**20:.1f} MiB")
        with tempfile.TemporaryDirectory() as work, running_server(
            url, Path(work), extra_env={"GRADEWATCH_MAX_UPLOAD_MB": "2000"}, threads=4
        ) as base:
            pid = _server_pid(base)
            started = time.perf_counter()
            answer = requests.post(f"{base}/update-csv", headers={"Authorization": f"Bearer {token}"},
                                   data=PERIOD, files={"file": ("bench.csv", io.BytesIO(payload))},
                                   timeout=3600)
            upload_s = time.perf_counter() - started
            rss = peak_rss_mib(pid)
        answer.raise_for_status()
        assert answer.json()["inserted"] == args.rows, answer.json()
        copy_s = plain_copy_seconds(url, csv_text)
        orm_rate = orm_rows_per_second(url, frame.head(args.orm_sample))
        upload_rate = args.rows / upload_s
        print(f"upload through the server: {upload_s:.2f} s = {upload_rate:,.0f} rows/s")
        print(f"server peak RSS: {rss:,.0f} MiB (target <= 1024)")
        print(f"plain COPY of the same rows: {copy_s:.2f} s; upload/COPY ratio: {upload_s / copy_s:.2f} "
              "(target <= 3)")
        print(f"ORM one object at a time ({args.orm_sample:,}-row sample): {orm_rate:,.0f} rows/s; "
              f"upload path is {upload_rate / orm_rate:.0f}x faster (target >= 50)")
        breakdown(engine, payload, upload_s, copy_s)
        print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def breakdown(engine: sa.Engine, payload: bytes, upload_s: float, copy_s: float) -> None:
    """Where the upload's time goes, measured in this process, from an empty table again."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE student_reports")
    started = time.perf_counter()
    read_csv_bytes(payload)
    parse_s = time.perf_counter() - started
    timings = []
    for start, end in (PERIOD.values(), PERIOD.values(), ("2026-08-31", "2027-01-15")):
        started = time.perf_counter()
        ingest_csv(engine, payload, parse_period(start, end), source="bench")
        timings.append(time.perf_counter() - started)
    ingest_s, again_s, second_s = timings
    print(f"in process: parse + convert {parse_s:.2f} s; checks + store into the empty table "
          f"{ingest_s - parse_s:.2f} s (whole ingest {ingest_s:.2f} s = {ingest_s / copy_s:.1f}x COPY); "
          f"so HTTP and the rest {upload_s - ingest_s:.2f} s")
    print(f"in process: the same file again, unchanged: {again_s:.2f} s; the same students' next "
          f"semester, into the table holding this one: {second_s:.2f} s")


def _server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmdline and port.encode() in cmdline:
                return int(proc.name)
    raise RuntimeError("server process not found")


if __name__ == "__main__":
    main()
