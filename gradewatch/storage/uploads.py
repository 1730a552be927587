"""``uploads``: the audit row of each accepted upload (HTTP, web page or inbox)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gradewatch.semesters import Period
from gradewatch.storage.tables import in_semester, uploads


def record_upload(
    conn: Connection,
    *,
    period: Period,
    source: str,
    token_name: str | None,
    mode: str,
    content_sha256: str,
    counts: dict[str, int],
    dropped_columns: list[str],
    now: datetime,
) -> int:
    result = conn.execute(
        uploads.insert().values(
            token_name=token_name,
            source=source,
            start_date_period=period.start,
            end_date_period=period.end,
            mode=mode,
            content_sha256=content_sha256,
            rows_received=counts["received"],
            rows_inserted=counts["inserted"],
            rows_updated=counts["updated"],
            rows_unchanged=counts["unchanged"],
            rows_rejected=counts["rejected"],
            dropped_columns=dropped_columns,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])


def already_ingested(conn: Connection, content_sha256: str, period: Period, source: str) -> bool:
    """Whether this content was already ingested for ``period`` from ``source`` (inbox dedup:
    the same export dropped for another semester is a different upload)."""
    query = sa.select(uploads.c.id).where(
        uploads.c.content_sha256 == content_sha256,
        in_semester(uploads, period),
        uploads.c.source == source,
    )
    return conn.execute(query.limit(1)).first() is not None
