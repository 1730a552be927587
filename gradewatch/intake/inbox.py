"""The CSV inbox: a folder where a student information system drops its exports.

A file's semester comes from its name (``2026-01-12_2026-06-30_grades.csv``) or from the folder
it is in (``2026-01-12_2026-06-30/export.csv``). A file is ingested only once it is complete:
its size and modification time have not changed between two looks (the caller, a Dagster
sensor, keeps the previous look). Ingestion goes through :func:`gradewatch.intake.ingest.ingest_csv`,
exactly as ``POST /update-csv``, with an ``uploads`` audit row whose source is ``inbox`` and
which records the file's sha256.

After a successful ingest the original is deleted (so no identifying data stays at rest) and a
JSON receipt with counts, row errors and dropped column names (never row values) goes to
``processed/``. With ``GRADEWATCH_INBOX_KEEP_ORIGINALS=1`` the original is kept in
``processed/`` instead. A file refused as a whole goes to ``rejected/`` with a ``.error.json``
beside it. The same content is never ingested twice, also after a crash between the ingest and
the deletion: the sha256 is checked against the audit rows first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from gradewatch.intake.ingest import IngestResult, UploadRejected, ingest_csv
from gradewatch.semesters import Period, PeriodError
from gradewatch.storage.uploads import already_ingested

log = logging.getLogger(__name__)

SOURCE = "inbox"
PROCESSED, REJECTED = "processed", "rejected"
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
Snapshot = dict[str, list[int]]  # relative path -> [size, mtime_ns]


@dataclass
class InboxOutcome:
    ingested: list[IngestResult] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still being written, or seen once
    snapshot: Snapshot = field(default_factory=dict)

    @property
    def semesters(self) -> list[str]:
        return sorted({r.period.key for r in self.ingested})


def candidate_files(inbox: Path) -> Iterator[Path]:
    """CSV files at the top of the inbox and in its ``<start>_<end>/`` folders."""
    for entry in sorted(inbox.iterdir()):
        if entry.name in (PROCESSED, REJECTED) or entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from (f for f in sorted(entry.iterdir()) if _is_candidate(f))
        elif _is_candidate(entry):
            yield entry


def _is_candidate(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and not name.startswith(".") and not name.endswith(IGNORED_SUFFIXES)


def period_of(path: Path, inbox: Path) -> Period:
    """The semester of a dropped file, from its name or from its folder's name."""
    for name in (path.name, path.parent.name if path.parent != inbox else ""):
        try:
            return Period.from_key(name)
        except PeriodError as exc:
            problem = str(exc)
            if "impossible date" in problem:
                raise UploadRejected(f"The name {name!r} holds an impossible date.") from exc
    raise UploadRejected(
        "The file's name does not say which semester it belongs to: name it "
        "<start>_<end>[anything].csv with ISO dates (e.g. 2026-01-12_2026-06-30_grades.csv), "
        "or put it in a folder named <start>_<end>."
    )


def scan_inbox(
    engine: Engine,
    inbox: Path,
    previous: Snapshot,
    *,
    keep_originals: bool = False,
    after_ingest: Callable[[Path], None] | None = None,
) -> InboxOutcome:
    """One look at the inbox: ingest every file that was already there, unchanged, last time.

    ``after_ingest`` runs between the ingest and the clean-up (the tests use it to simulate a
    crash at that moment).
    """
    outcome = InboxOutcome()
    for path in candidate_files(inbox):
        key = path.relative_to(inbox).as_posix()
        stat = path.stat()
        now = [stat.st_size, stat.st_mtime_ns]
        if previous.get(key) != now:
            outcome.snapshot[key] = now
            outcome.waiting.append(key)
            continue
        _take(engine, inbox, path, key, outcome, keep_originals, after_ingest)
    return outcome


def _take(engine: Engine, inbox: Path, path: Path, key: str, outcome: InboxOutcome,
          keep_originals: bool, after_ingest: Callable[[Path], None] | None) -> None:
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        period = period_of(path, inbox)
        if already_ingested(engine, digest, SOURCE):
            _write_receipt(inbox, path, {"file": key, "sha256": digest, "status": "duplicate",
                                         "message": "this exact content was ingested before; not ingested again"})
            _finish(inbox, path, keep_originals)
            outcome.duplicates.append(key)
            log.info("inbox file already ingested", extra={"semester": period.key})
            return
        result = ingest_csv(engine, raw, period, source=SOURCE)
    except UploadRejected as exc:
        _reject(inbox, path, key, digest, str(exc))
        outcome.rejected.append(key)
        return
    del raw  # the identifying data is no longer needed in memory either
    if after_ingest is not None:
        after_ingest(path)
    _write_receipt(inbox, path, {"file": key, "sha256": digest, "status": "ingested", **result.to_dict()})
    _finish(inbox, path, keep_originals)
    outcome.ingested.append(result)
    log.info("inbox file ingested", extra=result.log_fields())


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _write_receipt(inbox: Path, path: Path, body: dict[str, object]) -> Path:
    folder = inbox / PROCESSED
    folder.mkdir(exist_ok=True)
    receipt = folder / f"{path.name}.{_stamp()}.receipt.json"
    _atomic_write(receipt, json.dumps({**body, "processed_at": datetime.now(UTC).isoformat()}, indent=2))
    return receipt


def _finish(inbox: Path, path: Path, keep_originals: bool) -> None:
    if keep_originals:
        os.replace(path, inbox / PROCESSED / f"{_stamp()}-{path.name}")
    else:
        path.unlink()
    _remove_empty_folder(inbox, path.parent)


def _reject(inbox: Path, path: Path, key: str, digest: str, message: str) -> None:
    folder = inbox / REJECTED
    folder.mkdir(exist_ok=True)
    target = folder / f"{_stamp()}-{path.name}"
    _atomic_write(target.with_name(target.name + ".error.json"), json.dumps(
        {"file": key, "sha256": digest, "error": message, "rejected_at": datetime.now(UTC).isoformat()},
        indent=2))
    os.replace(path, target)
    _remove_empty_folder(inbox, path.parent)
    log.warning("inbox file refused: %s", message)


def _remove_empty_folder(inbox: Path, folder: Path) -> None:
    if folder != inbox and not any(folder.iterdir()):
        folder.rmdir()


def _atomic_write(path: Path, text: str) -> None:
    """Write to a temporary name in the same folder, then rename: never a half-written file."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
