"""Peak memory of a filtered report download: flat in the semester's size (issue 15).

Stores ``--students`` students with two prediction runs (written through the real storage code),
then streams the filtered report (default: high tier, at risk only) to /dev/null through the
same functions as ``GET /reports/download`` (``report_rows`` into ``iter_csv``) and prints the
peak RSS of the download, with the rows written. Run it for several sizes: the growth of the
peak must not follow the row count.

The download runs in a fresh process (``spawn``): the set-up (generating and storing 1M rows)
peaks far above any download, and a process's peak RSS never goes down, so measured in the
same process the download's own memory would be hidden under the set-up's high-water mark.
The child prints its peak after imports and connecting (the floor) and after the download.

    uv run python bench/report_download_memory.py --students 1000000 [--database-url ...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support import load_average, scratch_database, timed
from gradewatch.intake.csv_safety import iter_csv
from gradewatch.intake.ingest import ingest_csv
from gradewatch.reports import REPORT_HEADER, ReportView, report_rows
from gradewatch.semesters import Period
from gradewatch.storage import make_engine
from gradewatch.storage.predictions import record_predictions
from gradewatch.synthetic.generator import simulate_students

SEMESTER = Period(date(2026, 1, 12), date(2026, 6, 30))
REASON = [{"feature": "attendance_rate", "value": 61.0, "typical": 88.0, "effect": -8.1, "actionable": True}]


def peak_mb() -> float:
    """This process's peak RSS (VmHWM). Not ``getrusage``: on Linux its ``ru_maxrss`` survives
    ``exec``, so a spawned child would report its parent's set-up peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def predictions(ids: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    probability = rng.random(len(ids))
    return pd.DataFrame({"user_id": ids, "predicted_grade": 90 - 50 * probability,
                         "interval_lower": 40.0, "interval_upper": 95.0,
                         "probability_below_pass": probability, "at_risk": probability >= 0.5,
                         "reasons": [REASON] * len(ids)})


def download(url: str, tier: str, students: int) -> None:
    """The download, alone in this (spawned) process: its peak RSS is the download's."""
    engine = make_engine(url)
    with engine.connect() as conn:  # the pool's first connection is not the download's memory
        conn.exec_driver_sql("SELECT 1")
    floor = peak_mb()
    view = ReportView(tier=tier, at_risk_only=True)

    def stream() -> int:
        written = 0
        with open("/dev/null", "w") as sink:
            for chunk in iter_csv(REPORT_HEADER, report_rows(engine, SEMESTER, (0.5, 0.2), view)):
                written += chunk.count("\n")
                sink.write(chunk)
        return written - 1

    rows, seconds = timed(stream)
    peak = peak_mb()
    print(f"{engine.dialect.name}, {students} students: {rows} rows of the filtered download in "
          f"{seconds:.1f} s; download process peak RSS {floor:.0f} MB after imports and connecting, "
          f"{peak:.0f} MB after the download (+{peak - floor:.0f} MB); load average {load_average()}",
          flush=True)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--tier", default="high")
    parser.add_argument("--database-url")
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(15)
    ids = np.array([f"S{i:07d}" for i in range(args.students)], dtype=object)
    with scratch_database(args.database_url, args.postgres_admin_url) as url:
        engine = make_engine(url)
        semester = simulate_students(rng, ids, with_final_grades=False).drop(columns=["final_grade"])
        ingest_csv(engine, semester.to_csv(index=False).encode(), SEMESTER, source="api", token_name="bench")
        del semester
        first = datetime.now(UTC) - timedelta(days=14)
        record_predictions(engine, SEMESTER, predictions(ids, rng), "bench", first)
        record_predictions(engine, SEMESTER, predictions(ids, rng), "bench", first + timedelta(days=14))
        engine.dispose()
        print(f"set-up peak RSS {peak_mb():.0f} MB (generating and storing the rows)", flush=True)
        child = multiprocessing.get_context("spawn").Process(target=download,
                                                             args=(url, args.tier, args.students))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"the download process failed (exit code {child.exitcode})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
