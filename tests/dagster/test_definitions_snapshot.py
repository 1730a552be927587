"""A snapshot of the loaded Definitions: what the Dagster UI and the daemon will see.

Asset keys with their group, partitions, kinds, owners, dependencies and checks; sensors;
schedules with their cron; jobs with their selection and executor. A change to any of them shows up here as
a diff of ``snapshots/definitions.json``: review it, then regenerate the file with
``GRADEWATCH_UPDATE_SNAPSHOTS=1 uv run pytest tests/dagster/test_definitions_snapshot.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gradewatch_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def describe_definitions() -> dict[str, Any]:
    repository = defs.get_repository_def()
    graph = repository.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": node.partitions_def.name if node.partitions_def else None,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {
        "assets": assets,
        "sensors": sorted(s.name for s in repository.sensor_defs),
        "schedules": {s.name: s.cron_schedule for s in sorted(repository.schedule_defs, key=lambda s: s.name)},
        "jobs": {job.name: _selection(job.name) for job in repository.get_all_jobs()
                 if not job.name.startswith("__")},
        # How the daemon's run worker executes each job's steps.
        "executors": {job.name: job.executor_def.name for job in repository.get_all_jobs()
                      if not job.name.startswith("__")},
    }


def _selection(job_name: str) -> list[str]:
    keys = defs.resolve_job_def(job_name).asset_layer.executable_asset_keys
    return sorted(k.to_user_string() for k in keys)


def test_definitions_match_the_snapshot() -> None:
    current = describe_definitions()
    if os.environ.get("GRADEWATCH_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))
