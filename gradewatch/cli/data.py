"""``gradewatch generate`` (synthetic semesters) and ``gradewatch clean`` (one export through the
reader and the cleaning rules), so an ML engineer can see what cleaning does to any file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import pandas as pd

from gradewatch import schema
from gradewatch.cli.common import settings_from_env
from gradewatch.intake.csv_safety import inert_frame
from gradewatch.intake.reader import CsvRejected, ParsedCsv, read_csv_bytes
from gradewatch.quality.cleaning import CleaningReference, clean_semester
from gradewatch.semesters import Period, PeriodError
from gradewatch.synthetic.config import DRIFT_KINDS, ERROR_KINDS, GeneratorConfig
from gradewatch.synthetic.generator import write_semesters


def _kinds(value: str) -> tuple[str, ...]:
    if value.strip().lower() == "all":
        return ERROR_KINDS
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in ERROR_KINDS]
    if unknown or not kinds:
        raise click.BadParameter(f"unknown error kind(s) {', '.join(unknown) or '(none)'}; "
                                 f"choose from: all, {', '.join(ERROR_KINDS)}")
    return kinds


@click.command("generate")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for <start>_<end>.csv files and manifest.json.")
@click.option("--semesters", default=2, show_default=True, type=click.IntRange(1, 200))
@click.option("--students", default=200, show_default=True, type=click.IntRange(1, 10_000_000),
              help="Students per semester.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--with-final-grades", is_flag=True, help="Fill final_grade (end of semester).")
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of students whose row gets one human error.")
@click.option("--error-kinds", default="all", show_default=True,
              help=f"Comma-separated kinds to inject: {', '.join(ERROR_KINDS)}.")
@click.option("--file-error-rate", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Chance that each file-level kind hits a semester (when --error-rate > 0).")
@click.option("--pii", is_flag=True, help="Add Name, Email and Phone columns.")
@click.option("--drift", type=click.Choice(DRIFT_KINDS), default="none", show_default=True,
              help="Shift the population (attendance), the grade relation, or both.")
@click.option("--drift-from", type=click.IntRange(1), default=None,
              help="First drifted semester (1-based); default: the second half.")
@click.option("--first-year", default=2024, show_default=True, type=click.IntRange(1900, 2999))
def generate(out_dir: Path, semesters: int, students: int, seed: int, with_final_grades: bool,
             error_rate: float, error_kinds: str, file_error_rate: float, pii: bool, drift: str,
             drift_from: int | None, first_year: int) -> None:
    """Write synthetic semester CSVs with human errors and drift on request."""
    config = GeneratorConfig(
        semesters=semesters, students=students, seed=seed, with_final_grades=with_final_grades,
        error_rate=error_rate, error_kinds=_kinds(error_kinds), file_error_rate=file_error_rate,
        pii=pii, drift=drift, drift_from=drift_from, first_year=first_year)
    try:
        manifest_path = write_semesters(config, out_dir)
    except OSError as exc:
        raise click.ClickException(f"cannot write to {out_dir}: {exc.strerror or exc}") from exc
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for semester in manifest["semesters"]:
        injected = sum(semester["expected"]["by_kind"].values())
        kinds = ", ".join(e["kind"] for e in semester["file_errors"]) or "none"
        click.echo(f"{out_dir / semester['file']}: {semester['expected']['rows_written']} rows, "
                   f"{injected} row errors, file errors: {kinds}")
    click.echo(f"manifest: {manifest_path}")


@click.command("clean")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path),
              help="A CSV export, as uploaded.")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Cleaned CSV: canonical columns, quality_flags and excluded.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the quality report as JSON here.")
@click.option("--reference", "reference_path", type=click.Path(path_type=Path),
              help="A training reference (JSON of CleaningReference); default: the file's own "
                   "robust statistics.")
@click.option("--markdown", is_flag=True, help="Print the full quality report as Markdown.")
def clean(input_path: Path, output_path: Path, report_path: Path | None,
          reference_path: Path | None, markdown: bool) -> None:
    """Run the cleaning rules on one file."""
    parsed = _read_export(input_path)
    reference = _read_reference(reference_path) if reference_path else None
    frame = _with_period(parsed.frame, input_path)
    result = clean_semester(frame, reference)
    report = result.report.to_dict()
    report["reader"] = {"rows_received": parsed.rows_received, "rows_rejected": parsed.rejected_rows,
                        "dropped_columns": parsed.dropped_columns}
    # An id such as =HYPERLINK(...) must not run when the file is opened in a spreadsheet.
    _write(output_path, lambda p: inert_frame(result.frame).to_csv(p, index=False))
    if report_path is not None:
        _write(report_path, lambda p: p.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8"))
    if parsed.errors:
        first = ", ".join(str(e.row) for e in parsed.errors[:10])
        click.echo(f"{parsed.rejected_rows} rows rejected by the reader (rows {first}"
                   f"{', ...' if len(parsed.errors) > 10 else ''})", err=True)
    if parsed.dropped_columns:
        click.echo(f"dropped columns (not stored): {', '.join(parsed.dropped_columns)}", err=True)
    if markdown:
        click.echo(result.report.to_markdown(f"Data quality: {input_path.name}"))
    r = result.report
    click.echo(f"{output_path}: {r.rows_in} rows in, {r.rows_out} out ({r.clean} clean, "
               f"{r.imputed} imputed, {r.excluded} excluded)")


def _read_export(path: Path) -> ParsedCsv:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise click.ClickException(f"cannot read {path}: no such file") from exc
    except IsADirectoryError as exc:
        raise click.ClickException(f"cannot read {path}: it is a directory, not a CSV file") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return read_csv_bytes(raw, settings_from_env().user_id_pattern)
    except CsvRejected as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc


def _read_reference(path: Path) -> CleaningReference:
    try:
        return CleaningReference.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise click.ClickException(f"cannot read the reference {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(f"{path} is not a cleaning reference (JSON with medians, "
                                   f"scales and modes): {exc}") from exc


def _with_period(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A file named ``<start>_<end>*.csv`` gives the period to rows that do not carry one."""
    if schema.START in frame.columns and schema.END in frame.columns:
        return frame
    try:
        period = Period.from_key(path.name)
    except PeriodError:
        return frame
    return frame.assign(**{schema.START: period.start, schema.END: period.end})


def _write(path: Path, writer: Callable[[Path], object]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc
