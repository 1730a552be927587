"""Drive the real sensors and jobs in this process, without the daemon.

Used by ``gradewatch demo`` (headless) and the tests: each pass evaluates the sensors with
their stored cursors, applies their partition requests, and executes every requested run
through the Definitions, as the daemon would, until no sensor asks for anything.
"""

from dataclasses import dataclass, field

import dagster as dg

from gradewatch_assets.sensors import final_grades_sensor, semester_sensor

SENSORS = (semester_sensor, final_grades_sensor)


@dataclass
class RunSummary:
    sensor: str
    job: str
    partition: str
    success: bool
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)


@dataclass
class SensorRunner:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    cursors: dict[str, str | None] = field(default_factory=dict)

    def tick(self) -> list[RunSummary]:
        """One pass over the sensors; returns the runs it executed."""
        resources = self.defs.resources
        summaries = []
        for sensor in SENSORS:
            # As a context manager: the context holds the instance only weakly otherwise.
            with dg.build_sensor_context(instance=self.instance, resources=resources,
                                         cursor=self.cursors.get(sensor.name)) as context:
                result = sensor(context)
            for request in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            self.cursors[sensor.name] = result.cursor
            for request in result.run_requests or []:
                summaries.append(self._execute(sensor, request))
        return summaries

    def run_until_idle(self, max_passes: int = 10) -> list[RunSummary]:
        executed: list[RunSummary] = []
        for _ in range(max_passes):
            batch = self.tick()
            if not batch:
                return executed
            executed.extend(batch)
        raise RuntimeError(f"the sensors still requested runs after {max_passes} passes")

    def _execute(self, sensor: dg.SensorDefinition, request: dg.RunRequest) -> RunSummary:
        job_name = request.job_name or sensor.job_name
        job = self.defs.resolve_job_def(job_name)
        result = job.execute_in_process(partition_key=request.partition_key, instance=self.instance,
                                        tags=dict(request.tags), raise_on_error=False)
        metadata = {
            event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
            for event in result.get_asset_materialization_events()
        }
        return RunSummary(sensor.name, job_name, request.partition_key or "", result.success, metadata)
