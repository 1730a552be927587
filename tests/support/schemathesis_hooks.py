"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by tests/web/test_schemathesis.py).

The OpenAPI document states two rules between fields that JSON Schema cannot state for query
parameters, and schemathesis cannot read: ``x-after`` (``end_date_period`` after
``start_date_period``, ``to`` not before ``from``) and, on ``GET /history``,
``x-requires-one-of`` (a whole semester or a user_id). A generated request is made to follow
them here, as a client reading the document would; a value that is not a date is left as
generated (it must be refused).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import schemathesis

START, END = "start_date_period", "end_date_period"


def _ordered(fields: Any, first: str = START, second: str = END, *, strictly: bool = True) -> Any:
    if not isinstance(fields, dict):
        return fields
    try:
        start, end = date.fromisoformat(fields[first]), date.fromisoformat(fields[second])
    except (KeyError, TypeError, ValueError):
        return fields
    if end > start or (end == start and not strictly):
        return fields
    if start < date.max:
        return {**fields, second: (start + timedelta(days=1)).isoformat()}
    return {**fields, first: (date.max - timedelta(days=1)).isoformat(), second: date.max.isoformat()}


def _one_group_whole(query: Any) -> Any:
    """``x-requires-one-of`` of GET /history: the semester's two dates together, or a user_id."""
    query = dict(query or {})
    if (START in query) != (END in query):  # half a semester: the document asks for both
        query.pop(START, None)
        query.pop(END, None)
    if START not in query and "user_id" not in query:
        query["user_id"] = "S1"
    return _ordered(query, "from", "to", strictly=False)


@schemathesis.hook
def map_query(context: Any, query: Any) -> Any:
    operation = getattr(context, "operation", None)
    if getattr(operation, "path", None) == "/history":
        query = _one_group_whole(query)
    return _ordered(query)


@schemathesis.hook
def map_body(_context: Any, body: Any) -> Any:
    return _ordered(body)
