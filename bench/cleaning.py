"""Cleaning benchmark: time and peak RSS to clean 10k, 100k and 1M rows, and the quality report
of the Kaggle-style export (read from the shared data folder, never copied into the project).

Each size runs in its own process, so its peak RSS is its own. The rows are generated with 5%
human errors (every row kind) in the form the CSV reader returns them; only clean_semester is
timed (best of --repeat runs). The budget is 5 s for 1M rows on a 2-core machine.

    uv run python bench/cleaning.py [--sizes 10000,100000,1000000] [--kaggle PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradewatch.intake.reader import read_csv_bytes  # noqa: E402
from gradewatch.quality.cleaning import clean_semester  # noqa: E402
from gradewatch.synthetic.config import ROW_KINDS, GeneratorConfig  # noqa: E402
from gradewatch.synthetic.generator import generate  # noqa: E402

KAGGLE = ROOT.parent / "shared" / "data" / "kaggle-student-performance" / "student_performance.csv"
BUDGET_1M_SECONDS = 5.0


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak seen after is cleaning's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure_one(rows: int, repeat: int) -> dict[str, float]:
    config = GeneratorConfig(semesters=1, students=rows, seed=1, with_final_grades=True,
                             error_rate=0.05, error_kinds=ROW_KINDS)
    frame = generate(config)[0].parsed
    baseline = _rss_mib("VmRSS")
    reset = _reset_peak()
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = clean_semester(frame)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        del result
    return {"rows": len(frame), "seconds": min(times), "seconds_max": max(times), "cpu_seconds": min(cpu),
            "peak_rss_mib": _rss_mib("VmHWM"), "rss_before_mib": baseline, "peak_reset": reset}


def run_sizes(sizes: list[int], repeat: int) -> list[dict[str, float]]:
    figures = []
    for rows in sizes:
        # A fresh interpreter per size: peak RSS must not carry over from a larger run.
        out = subprocess.run([sys.executable, __file__, "--one", str(rows), "--repeat", str(repeat)],
                             capture_output=True, text=True, check=True)
        figures.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return figures


def print_sizes(figures: list[dict[str, float]]) -> None:
    print("Cleaning time and memory (rows with 5% human errors; best of the repeats)")
    print(f"{'rows':>10} {'seconds':>9} {'CPU s':>7} {'us/row':>8} {'peak RSS MiB':>13} {'RSS before':>11}")
    for f in figures:
        print(f"{f['rows']:>10,} {f['seconds']:>9.3f} {f['cpu_seconds']:>7.3f} "
              f"{1e6 * f['seconds'] / f['rows']:>8.2f} {f['peak_rss_mib']:>13.0f} {f['rss_before_mib']:>11.0f}")
    if len(figures) > 1:
        first, last = figures[0], figures[-1]
        growth = (last["seconds"] / first["seconds"]) / (last["rows"] / first["rows"])
        print(f"time grows {last['seconds'] / first['seconds']:.1f}x for {last['rows'] / first['rows']:.0f}x "
              f"the rows (1.0 = linear per row: {growth:.2f})")
    million = [f for f in figures if f["rows"] >= 1_000_000]
    if million:
        verdict = "within" if million[0]["seconds"] <= BUDGET_1M_SECONDS else "OVER"
        print(f"1M rows: {million[0]['seconds']:.2f} s, {verdict} the {BUDGET_1M_SECONDS:g} s budget")
    load = os.getloadavg()[0]
    print(f"load average while measuring: {load:.1f} on {os.cpu_count()} cores (wall time "
          "suffers when other work shares the cores; CPU s is this process's own time)")
    if figures and not figures[0]["peak_reset"]:
        print("(peak RSS includes generating the rows: /proc/self/clear_refs was not writable)")


def print_kaggle(path: Path) -> None:
    print(f"\nQuality report of {path}")
    parsed = read_csv_bytes(path.read_bytes())
    print(f"reader: {parsed.rows_received} rows received, {parsed.rejected_rows} rejected "
          f"({sorted({e.message for e in parsed.errors})}), dropped columns: {parsed.dropped_columns}")
    result = clean_semester(parsed.frame)
    print(result.report.to_markdown(f"Data quality: {path.name}"))
    summary = result.report.to_dict()
    print(json.dumps({k: summary[k] for k in ("rows_in", "rows_out", "clean", "imputed", "excluded",
                                               "dropped", "rules")}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kaggle", type=Path, default=KAGGLE, help="the Kaggle-style export")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.repeat)))
        return
    print_sizes(run_sizes([int(s) for s in args.sizes.split(",")], args.repeat))
    if args.kaggle.exists():
        print_kaggle(args.kaggle)
    else:
        print(f"\n{args.kaggle} not found: no Kaggle quality report")


if __name__ == "__main__":
    main()
