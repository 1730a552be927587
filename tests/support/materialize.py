"""Materialize the real asset graph, in process, on a real Dagster instance."""

from __future__ import annotations

import dagster as dg

from gradewatch_assets.definitions import ASSETS
from gradewatch_assets.resources import GradewatchResource


def run(job: dg.UnresolvedAssetJobDefinition, key: str, instance: dg.DagsterInstance,
        gradewatch: GradewatchResource) -> dg.ExecuteInProcessResult:
    """Materialize ``job``'s assets for one semester, adding its partition first."""
    instance.add_dynamic_partitions("semester", [key])
    selection = job.selection
    result = dg.materialize(ASSETS, selection=selection, partition_key=key, instance=instance,
                            resources={"gradewatch": gradewatch}, raise_on_error=True)
    assert result.success
    return result


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """The metadata of the last materialization of ``asset`` in ``result``."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    assert events, f"{asset} was not materialized"
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}
