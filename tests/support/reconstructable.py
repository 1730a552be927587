"""Jobs as the daemon's run worker rebuilds them in its own process: by import, with the
resources read from the environment (``GRADEWATCH_DATABASE_URL``) the test sets."""

from __future__ import annotations

import dagster as dg


def evaluation_job() -> dg.JobDefinition:
    from gradewatch_assets.definitions import build_definitions

    return build_definitions().resolve_job_def("evaluation_job")
