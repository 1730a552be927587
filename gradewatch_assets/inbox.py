"""The CSV inbox in Dagster: a sensor that only claims files, and one run per claimed file.

``csv_inbox_sensor`` looks at ``GRADEWATCH_INBOX_DIR``, claims the files that stopped changing
(an atomic rename into ``working/``) and requests one ``inbox_ingest_job`` run per claimed file,
keyed by the claim, so a large export is read and ingested in its run (progress and failure
visible in the UI), never inside the sensor's evaluation. It also deletes refused files after
``GRADEWATCH_INBOX_REJECTED_RETENTION_DAYS`` and alerts about each one before that.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from gradewatch.intake.inbox import Claim, ingest_claim, look_at_inbox, rejected_housekeeping, release
from gradewatch.monitoring.alerts import alert
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.sensors import INTERVAL

CLAIM_TAG = "gradewatch/inbox_claim"
REMINDER = timedelta(days=1)  # the second alert about a refused file, this long before it goes


class InboxFile(dg.Config):
    """The claimed file a run ingests (written by csv_inbox_sensor)."""

    claim_id: str
    original: str
    size: int
    mtime_ns: int


@dg.op(description="Reads one claimed inbox file and ingests it through the code of POST /update-csv.")
def ingest_inbox_file(context: dg.OpExecutionContext, config: InboxFile,
                      gradewatch: GradewatchResource) -> dg.Output:
    settings = gradewatch.settings()
    outcome = ingest_claim(gradewatch.engine(), settings.inbox_dir, Claim(**config.model_dump()),
                           keep_originals=settings.inbox_keep_originals,
                           user_id_pattern=settings.user_id_pattern,
                           wait_seconds=settings.upload_wait_seconds)
    metadata: dict[str, object] = {"file": outcome.original, "status": outcome.status}
    if outcome.message:
        metadata["message"] = outcome.message
    if outcome.result is not None:
        receipt = outcome.result.to_dict()
        metadata.update({k: receipt[k] for k in ("semester", "mode", "received", "inserted", "updated",
                                                 "unchanged", "rejected")})
    context.log.info(f"inbox file {outcome.original}: {outcome.status}")
    return dg.Output(None, metadata=metadata)


@dg.job(name="inbox_ingest_job", tags={"gradewatch/source": "inbox"},
        description="Ingest one file claimed from the CSV inbox by csv_inbox_sensor.")
def inbox_ingest_job() -> None:
    ingest_inbox_file()


def _state(cursor: str | None) -> dict:
    try:
        state = json.loads(cursor) if cursor else {}
    except json.JSONDecodeError:
        state = {}
    if not isinstance(state, dict):
        state = {}
    return {"snapshot": state.get("snapshot", {}), "reported": state.get("reported", {}),
            "announced": state.get("announced", []), "reminded": state.get("reminded", [])}


def _run_request(instance: dg.DagsterInstance, inbox, claim: Claim) -> dg.RunRequest | None:
    """The run of ``claim``, unless one exists already; a claim whose run failed goes back."""
    run_key = f"inbox:{claim.claim_id}"
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    if runs and runs[0].status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        release(inbox, claim.path(inbox), claim.original)  # claimed afresh after two looks
        return None
    if runs:
        return None  # queued, running, or done
    return dg.RunRequest(run_key=run_key, tags={CLAIM_TAG: claim.claim_id},
                         run_config=dg.RunConfig(ops={"ingest_inbox_file": InboxFile(**vars(claim))}))


def _alert_pending(gradewatch: GradewatchResource, pending: dict[str, datetime], state: dict) -> None:
    """One alert when a refused file appears, one more a day before it is deleted."""
    now = datetime.now(UTC)
    new = [name for name in pending if name not in state["announced"]]
    due = [name for name, when in pending.items() if when - now <= REMINDER and name not in state["reminded"]]
    if new or due:
        gradewatch.setup_for_execution(None)  # alert storage and the webhook in this process
    for name in new:
        alert("inbox_rejected_pending", "warning",
              f"the inbox refused {name}; it holds identifying data and will be deleted on "
              f"{pending[name]:%Y-%m-%d %H:%M} UTC: see its .error.json, fix the export and drop it again",
              file=name, deleted_at=pending[name].isoformat())
    for name in due:
        alert("inbox_rejected_pending", "warning",
              f"the refused inbox file {name} will be deleted on {pending[name]:%Y-%m-%d %H:%M} UTC",
              file=name, deleted_at=pending[name].isoformat())
    state["announced"] = sorted(n for n in {*state["announced"], *new} if n in pending)
    state["reminded"] = sorted(n for n in {*state["reminded"], *due} if n in pending)


@dg.sensor(job=inbox_ingest_job, minimum_interval_seconds=INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Claims the CSV exports dropped into GRADEWATCH_INBOX_DIR once they stopped "
                       "changing and requests one inbox_ingest_job run per file (the code of "
                       "POST /update-csv); deletes refused files after "
                       "GRADEWATCH_INBOX_REJECTED_RETENTION_DAYS.")
def csv_inbox_sensor(context: dg.SensorEvaluationContext, gradewatch: GradewatchResource) -> dg.SensorResult:
    settings = gradewatch.settings()
    inbox = settings.inbox_dir
    if inbox is None:
        return dg.SensorResult(skip_reason=dg.SkipReason("GRADEWATCH_INBOX_DIR is not set"))
    if not inbox.is_dir():
        return dg.SensorResult(skip_reason=dg.SkipReason(f"the inbox {inbox} does not exist"))
    state = _state(context.cursor)
    look = look_at_inbox(inbox, state["snapshot"])
    requests = [r for r in (_run_request(context.instance, inbox, c) for c in look.claims) if r is not None]
    for key, problem in look.problems.items():
        if state["reported"].get(key) != problem:  # each problem once, not at every tick
            context.log.warning(f"inbox file {key}: {problem}")
    housekeeping = rejected_housekeeping(inbox, settings.inbox_rejected_retention_days)
    if housekeeping.deleted:
        context.log.info(f"deleted {len(housekeeping.deleted)} refused inbox file(s) after "
                         f"{settings.inbox_rejected_retention_days} days")
    _alert_pending(gradewatch, housekeeping.pending, state)
    state.update(snapshot=look.snapshot, reported=look.problems)
    summary = (f"{len(requests)} file(s) claimed for ingestion; {len(look.waiting)} waiting to be complete; "
               f"{len(look.problems)} with a problem")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(state, sort_keys=True),
                           skip_reason=None if requests else dg.SkipReason(summary))
