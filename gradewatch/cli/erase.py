"""``gradewatch erase``: forget a student, or a whole semester (the right to erasure)."""

from __future__ import annotations

import logging

import click

from gradewatch.cli.common import engine_from_env
from gradewatch.semesters import Period, PeriodError
from gradewatch.storage.erasure import erase as erase_rows

log = logging.getLogger(__name__)


@click.command("erase")
@click.option("--user-id", default=None, help="The student to forget (their campus user_id).")
@click.option("--semester", default=None, metavar="START_END",
              help="A semester key such as 2026-01-12_2026-06-30: only that semester of the student, "
                   "or, without --user-id, every student of that semester.")
def erase(user_id: str | None, semester: str | None) -> None:
    """Remove a student (or a whole semester) from every table that holds student rows, in one
    transaction, and print the counts. Models already trained keep what they learnt: see README."""
    if user_id is None and semester is None:
        raise click.UsageError("give --user-id ID, --semester START_END, or both")
    if user_id is not None and not user_id.strip():
        raise click.BadParameter("the user_id is empty", param_hint="--user-id")
    try:
        period = Period.from_key(semester) if semester is not None else None
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="--semester") from exc
    result = erase_rows(engine_from_env(), user_id=user_id, period=period)
    what = "the student" if user_id is not None else "the semester"
    where = f" in {result.semester}" if result.semester else ""
    for table, count in result.counts.items():
        click.echo(f"{table}: {count} row(s) erased")
    click.echo(f"erased {result.total} row(s) of {what}{where}; recorded in the erasures table")
    # The audit record says what kind of erasure ran and how much it removed, never whose.
    log.info("erasure", extra={"event": "erasure", "scope": result.scope, "semester": result.semester,
                               "rows_erased": result.total})
