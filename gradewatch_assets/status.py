"""The Dagster half of ``gradewatch status``: the last runs of the instance at DAGSTER_HOME."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

MAX_RUNS = 8
PARTITION_TAG = "dagster/partition"  # the tag Dagster puts on a partition's run


def _time(stamp: float | None) -> str | None:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds") if stamp else None


def recent_runs(dagster_home: Path, limit: int = MAX_RUNS) -> list[dict[str, Any]] | None:
    """The newest runs, or None when ``dagster_home`` holds no instance (nothing is created there)."""
    if not (dagster_home / "dagster.yaml").is_file():
        return None
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records(limit=limit)
        return [
            {"run_id": r.dagster_run.run_id, "job": r.dagster_run.job_name, "status": r.dagster_run.status.value,
             "partition": r.dagster_run.tags.get(PARTITION_TAG), "started": _time(r.start_time),
             "ended": _time(r.end_time)}
            for r in records
        ]  # fmt: skip
