"""``gradewatch model list|promote|rollback`` and ``gradewatch drift``.

scikit-learn, scipy and pandas are imported inside the commands, so that every other
``gradewatch`` command starts without paying for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gradewatch.cli.common import engine_from_env, settings_from_env

if TYPE_CHECKING:
    import pandas as pd

    from gradewatch.monitoring.drift import DriftReport


@click.group()
def model() -> None:
    """The model registry: list versions, promote one, roll back."""


@model.command("list")
def model_list() -> None:
    """List model versions, oldest first; the champion is marked with '*'."""
    from gradewatch.models import registry

    versions = registry.list_versions(engine_from_env())
    if not versions:
        click.echo("no model versions yet")
        return
    click.echo("  version\tstatus\talgorithm\tcv_mae\ttrained_at\tpromoted_at\tsemesters")
    for v in versions:
        mark = "*" if v.status == "champion" else " "
        mae = v.metrics.get("cv_mae")
        promoted = v.promoted_at.isoformat(timespec="seconds") if v.promoted_at else "-"
        click.echo(
            f"{mark} {v.version}\t{v.status}\t{v.algorithm}\t"
            f"{'-' if mae is None else f'{mae:.3f}'}\t{v.trained_at.isoformat(timespec='seconds')}\t"
            f"{promoted}\t{','.join(v.training_semesters) or '-'}"
        )


@model.command("promote")
@click.argument("version")
def model_promote(version: str) -> None:
    """Make VERSION the champion (its artifact is checked first)."""
    from gradewatch.models import registry

    try:
        registry.promote(engine_from_env(), version)
    except registry.RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{version} is now the champion")


@model.command("rollback")
def model_rollback() -> None:
    """Give the crown back to the previous champion with an intact artifact."""
    from gradewatch.models import registry

    try:
        old, new = registry.rollback(engine_from_env())
    except registry.RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rolled back from {old} to {new}; {new} is now the champion")


def _read(path: Path, role: str) -> pd.DataFrame:
    from gradewatch.intake.reader import CsvRejected, read_csv_bytes

    try:
        parsed = read_csv_bytes(path.read_bytes(), settings_from_env().user_id_pattern)
    except CsvRejected as exc:
        raise click.ClickException(f"{role} file {path}: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {role} file {path}: {exc.strerror}") from exc
    return parsed.frame


def _print_table(report: DriftReport) -> None:
    def number(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}g}" if value < 1e-3 else f"{value:.{digits}f}"

    click.echo(f"{'feature':34} {'method':18} {'effect':>8} {'thresh':>7} {'p_value':>9} "
               f"{'psi':>7} {'psi_band':9} drifted")
    for f in report.features:
        click.echo(
            f"{f.feature:34} {f.method:18} {number(f.statistic):>8} {number(f.threshold):>7} "
            f"{number(f.p_value):>9} {number(f.psi):>7} {f.psi_band or '-':9} "
            f"{'YES' if f.drifted else 'no'}"
        )
    verdict = "DRIFT" if report.dataset_drift else "no drift"
    click.echo(f"dataset: {verdict} (per-feature alpha {report.alpha_per_feature:.4f})")


@click.command("drift")
@click.option("--reference", "reference", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV the model was trained on (or any earlier semester).")
@click.option("--current", "current", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of the semester to check.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def drift(reference: Path, current: Path, as_json: bool) -> None:
    """Drift report between two CSV files (same columns and aliases as an upload)."""
    from gradewatch.monitoring.drift import DriftInputError, drift_report

    try:
        report = drift_report(_read(reference, "reference"), _read(current, "current"))
    except DriftInputError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.to_json_dict(), indent=2))
    else:
        _print_table(report)
