"""The instance's run limits hold for every run of a semester, whoever launched it.

The queued run coordinator of ``dagster_home/dagster.yaml`` (and of the production file) decides
which queued run may start with Dagster's own TagConcurrencyLimitsCounter, from the tags of the
runs in progress. Runs are created on a real instance loaded with those very files, with the tags
each launcher gives them: a sensor's run request, and a backfill (Dagster tags its runs with
``dagster/backfill`` and ``dagster/partition``, nothing of ours).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._utils.tags import TagConcurrencyLimitsCounter

from gradewatch_assets.definitions import build_definitions
from gradewatch_assets.sensors import semester_sensor
from tests.support.semesters import S1, S2, semester_frame, upload

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_FILES = ("dagster_home/dagster.yaml", "dagster_home/dagster.production.yaml")


def run_limits(name: str) -> list[dict]:
    config = yaml.safe_load((ROOT / name).read_text())
    with dg.instance_for_test(overrides={"run_coordinator": config["run_coordinator"]}) as instance:
        return list(instance.run_coordinator.get_run_queue_config().tag_concurrency_limits)


def create_run(instance, job_name: str, partition: str, tags: dict[str, str], resources) -> dg.DagsterRun:
    job = build_definitions(resources["gradewatch"]).resolve_job_def(job_name)
    return instance.create_run_for_job(job_def=job, tags={**job.tags, **tags, "dagster/partition": partition})


@pytest.mark.parametrize("instance_file", INSTANCE_FILES)
def test_a_backfill_waits_for_the_sensor_run_of_its_semester(engine, instance, resources, instance_file) -> None:
    upload(engine, S1, semester_frame(S1, 20), grades=False)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        (request,) = semester_sensor(context).run_requests
    sensor_run = create_run(instance, "semester_job", request.partition_key,
                            {**request.tags, "dagster/run_key": request.run_key}, resources)
    limits = run_limits(instance_file)
    in_progress = TagConcurrencyLimitsCounter(limits, [sensor_run])
    for job_name in ("semester_job", "evaluation_job"):
        same = create_run(instance, job_name, S1.key, {"dagster/backfill": "abcdefgh"}, resources)
        other = create_run(instance, job_name, S2.key, {"dagster/backfill": "abcdefgh"}, resources)
        assert in_progress.is_blocked(same), f"a backfill {job_name} run of {S1.key} would start"
        assert not in_progress.is_blocked(other)


@pytest.mark.parametrize("instance_file", INSTANCE_FILES)
def test_one_evaluation_at_a_time_however_launched(engine, instance, resources, instance_file) -> None:
    from_the_ui = create_run(instance, "evaluation_job", S1.key, {}, resources)
    assert from_the_ui.tags["gradewatch/training"] == "evaluation"  # the job carries its own tag
    backfill = create_run(instance, "evaluation_job", S2.key, {"dagster/backfill": "abcdefgh"}, resources)
    assert TagConcurrencyLimitsCounter(run_limits(instance_file), [from_the_ui]).is_blocked(backfill)
