"""The CSV inbox: a folder where a student information system drops its exports.

A file's semester comes from its name (``2026-01-12_2026-06-30_grades.csv``) or from the folder
it is in (``2026-01-12_2026-06-30/export.csv``). Handling a file takes two steps:

1. :func:`look_at_inbox` (the sensor, cheap): a file whose size and modification time have not
   changed since the previous look is *claimed*: renamed, atomically, to
   ``working/<claim>/<its path>``. Nothing else can take it any more, and a retried look cannot
   take it twice. Claimed files are handed out until their run has dealt with them.
2. :func:`ingest_claim` (a run of its own, however large the file): the file is read, checked
   against the size and time it had when it was claimed (a writer that kept it open and went
   on writing gets it back in the inbox, for another two looks), and ingested through
   :func:`gradewatch.intake.ingest.ingest_csv`, exactly as ``POST /update-csv``, with an
   ``uploads`` audit row whose source is ``inbox`` and which records the file's sha256. The
   check that this content was not already ingested for this semester runs inside the ingest
   transaction, so a re-run never stores a file twice.

After a successful ingest the original is deleted (with ``GRADEWATCH_INBOX_KEEP_ORIGINALS=1`` it
is kept in ``processed/``) and a JSON receipt with counts, row errors and dropped column names
(never row values) goes to ``processed/``. A file refused as a whole, or that cannot be read, goes
to ``rejected/`` with a ``.error.json`` beside it; :func:`rejected_housekeeping` deletes those
after ``GRADEWATCH_INBOX_REJECTED_RETENTION_DAYS``, since they hold identifying data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from gradewatch import schema
from gradewatch.intake.ingest import (
    DEFAULT_UPLOAD_WAIT_SECONDS,
    AlreadyIngested,
    IngestResult,
    UploadRejected,
    ingest_csv,
)
from gradewatch.semesters import Period, PeriodError

log = logging.getLogger(__name__)

SOURCE = "inbox"
PROCESSED, REJECTED, WORKING = "processed", "rejected", "working"
ERROR_SUFFIX = ".error.json"
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
Snapshot = dict[str, list[int]]  # relative path -> [size, mtime_ns]


@dataclass(frozen=True)
class Claim:
    """A file taken out of the inbox for its run: ``working/<claim_id>/<original>``."""

    claim_id: str
    original: str  # the file's path relative to the inbox, as dropped
    size: int
    mtime_ns: int

    def path(self, inbox: Path) -> Path:
        return inbox / WORKING / self.claim_id / self.original


@dataclass
class Look:
    claims: list[Claim] = field(default_factory=list)  # every claimed file still waiting for its run
    waiting: list[str] = field(default_factory=list)  # still being written, or seen once
    problems: dict[str, str] = field(default_factory=dict)  # file -> what went wrong this look
    snapshot: Snapshot = field(default_factory=dict)


@dataclass
class ClaimOutcome:
    status: str  # ingested | duplicate | rejected | vanished | changed
    original: str
    message: str = ""
    result: IngestResult | None = None


def candidate_files(inbox: Path) -> Iterator[Path]:
    """CSV files at the top of the inbox and in its ``<start>_<end>/`` folders."""
    for entry in sorted(inbox.iterdir()):
        if entry.name in (PROCESSED, REJECTED, WORKING) or entry.name.startswith("."):
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


# --- step 1: the look (the sensor) ---------------------------------------------------------------


def look_at_inbox(inbox: Path, previous: Snapshot) -> Look:
    """Claim every file that was already there, unchanged, at the previous look.

    A file that vanishes or cannot be examined is named in ``problems`` and skipped: it never
    stops the others.
    """
    look = Look()
    for path in candidate_files(inbox):
        key = path.relative_to(inbox).as_posix()
        try:
            stat = path.stat()
            seen = [stat.st_size, stat.st_mtime_ns]
            if previous.get(key) != seen:
                look.snapshot[key] = seen
                look.waiting.append(key)
                continue
            _claim(inbox, path, key, seen, look)
        except FileNotFoundError:
            look.problems[key] = "the file disappeared before it could be claimed"
        except OSError as exc:
            look.problems[key] = f"the file cannot be claimed ({type(exc).__name__}: {exc.strerror})"
    look.claims = list(pending_claims(inbox))
    return look


def _claim(inbox: Path, path: Path, key: str, seen: list[int], look: Look) -> None:
    target = inbox / WORKING / _claim_id() / key
    target.parent.mkdir(parents=True)
    os.replace(path, target)  # atomic: from here on no other look can take this file
    _remove_empty_folders(inbox, path.parent)
    stat = target.stat()
    if [stat.st_size, stat.st_mtime_ns] != seen:  # written to between our stat and the rename
        release(inbox, target, key)
        look.snapshot[key] = [stat.st_size, stat.st_mtime_ns]
        look.waiting.append(key)


def pending_claims(inbox: Path) -> Iterator[Claim]:
    """Every claimed file not yet dealt with by its run, oldest claim first."""
    working = inbox / WORKING
    if not working.is_dir():
        return
    for folder in sorted(working.iterdir()):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            yield Claim(folder.name, path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns)


def release(inbox: Path, claimed: Path, original: str) -> None:
    """Put a claimed file back where it was dropped, for the next looks."""
    target = inbox / original
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(claimed, target)
    _remove_empty_folders(inbox / WORKING, claimed.parent)


# --- step 2: the ingestion (a run of its own) ----------------------------------------------------


def ingest_claim(
    engine: Engine,
    inbox: Path,
    claim: Claim,
    *,
    keep_originals: bool = False,
    user_id_pattern: str = schema.DEFAULT_USER_ID_PATTERN,
    wait_seconds: float = DEFAULT_UPLOAD_WAIT_SECONDS,
    after_ingest: Callable[[Path], None] | None = None,
) -> ClaimOutcome:
    """Ingest one claimed file; every outcome but an unexpected error leaves nothing claimed.

    ``user_id_pattern`` and ``wait_seconds`` are the settings an upload through the API gets:
    the inbox is one more door into the same ingestion. ``after_ingest`` runs between the
    ingest and the clean-up (the tests use it to simulate a crash at that moment). On an
    unexpected error (the database is down) the file goes back to the inbox and the error is
    raised, so that the run fails visibly.
    """
    path, key = claim.path(inbox), claim.original
    try:
        raw = path.read_bytes()
        stat = path.stat()
    except FileNotFoundError:
        _remove_empty_folders(inbox / WORKING, path.parent)
        log.warning("inbox file %s disappeared after it was claimed; nothing ingested", key)
        return ClaimOutcome("vanished", key, "the file disappeared after it was claimed")
    except OSError as exc:
        message = f"the file cannot be read ({type(exc).__name__}: {exc.strerror})"
        _reject(inbox, path, key, None, message)
        return ClaimOutcome("rejected", key, message)
    if (len(raw), stat.st_size, stat.st_mtime_ns) != (claim.size, claim.size, claim.mtime_ns):
        release(inbox, path, key)
        log.info("inbox file %s changed after it was claimed; back in the inbox", key)
        return ClaimOutcome("changed", key, "the file was still being written; it will be looked at again")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        period = period_of(inbox / key, inbox)
        result = ingest_csv(engine, raw, period, source=SOURCE, once=True,
                            user_id_pattern=user_id_pattern, wait_seconds=wait_seconds)
    except AlreadyIngested:
        _write_receipt(inbox, path, {"file": key, "sha256": digest, "status": "duplicate", "semester": period.key,
                                     "message": "this exact content was ingested for this semester before; "
                                                "not ingested again"})
        _finish(inbox, path, keep_originals)
        log.info("inbox file already ingested", extra={"semester": period.key})
        return ClaimOutcome("duplicate", key)
    except UploadRejected as exc:
        _reject(inbox, path, key, digest, str(exc))
        return ClaimOutcome("rejected", key, str(exc))
    except BaseException:
        release(inbox, path, key)
        raise
    del raw  # the identifying data is no longer needed in memory either
    if after_ingest is not None:
        after_ingest(path)
    _write_receipt(inbox, path, {"file": key, "sha256": digest, "status": "ingested", **result.to_dict()})
    _finish(inbox, path, keep_originals)
    log.info("inbox file ingested", extra=result.log_fields())
    return ClaimOutcome("ingested", key, result=result)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _claim_id() -> str:
    return f"{_stamp()}-{secrets.token_hex(3)}"  # unique also for two claims in one microsecond


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
    _remove_empty_folders(inbox / WORKING, path.parent)


def _reject(inbox: Path, path: Path, key: str, digest: str | None, message: str) -> None:
    folder = inbox / REJECTED
    folder.mkdir(exist_ok=True)
    target = folder / f"{_stamp()}-{path.name}"
    _atomic_write(target.with_name(target.name + ERROR_SUFFIX), json.dumps(
        {"file": key, "sha256": digest, "error": message, "rejected_at": datetime.now(UTC).isoformat()},
        indent=2))
    os.replace(path, target)
    _remove_empty_folders(inbox / WORKING, path.parent)
    log.warning("inbox file refused: %s", message)


def _remove_empty_folders(top: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``top`` while they are empty."""
    while folder != top and top in folder.parents:
        if folder.is_dir():
            if any(folder.iterdir()):
                return
            folder.rmdir()
        folder = folder.parent


def _atomic_write(path: Path, text: str) -> None:
    """Write to a temporary name in the same folder, then rename: never a half-written file."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


# --- refused files: kept for a while, then deleted -----------------------------------------------


@dataclass
class Housekeeping:
    deleted: list[str] = field(default_factory=list)
    pending: dict[str, datetime] = field(default_factory=dict)  # refused file -> when it will go


def rejected_housekeeping(inbox: Path, retention_days: int, now: datetime | None = None) -> Housekeeping:
    """Delete refused files (and their error notes) older than ``retention_days``; list the others
    with their deletion time. Age counts from the refusal (when the error note was written)."""
    now = now or datetime.now(UTC)
    outcome = Housekeeping()
    folder = inbox / REJECTED
    if not folder.is_dir():
        return outcome
    for path in sorted(folder.iterdir()):
        if path.name.endswith(ERROR_SUFFIX):
            continue
        note = path.with_name(path.name + ERROR_SUFFIX)
        refused = (note if note.exists() else path).lstat().st_mtime  # the note is written at refusal
        deleted_at = datetime.fromtimestamp(refused, UTC) + timedelta(days=retention_days)
        if deleted_at > now:
            outcome.pending[path.name] = deleted_at
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        note.unlink(missing_ok=True)
        outcome.deleted.append(path.name)
    return outcome
