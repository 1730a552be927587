"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by tests/web/test_schemathesis.py).

The OpenAPI document marks ``end_date_period`` with ``x-after: start_date_period``: the one
rule between two fields that JSON Schema cannot state. schemathesis cannot read it, so a
generated pair of valid dates is put in that order here, as a client reading the document would;
a value that is not a date is left as generated (it must be refused).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import schemathesis

START, END = "start_date_period", "end_date_period"


def _ordered(fields: Any) -> Any:
    if not isinstance(fields, dict):
        return fields
    try:
        start, end = date.fromisoformat(fields[START]), date.fromisoformat(fields[END])
    except (KeyError, TypeError, ValueError):
        return fields
    if end > start:
        return fields
    if start < date.max:
        return {**fields, END: (start + timedelta(days=1)).isoformat()}
    return {**fields, START: (date.max - timedelta(days=1)).isoformat(), END: date.max.isoformat()}


@schemathesis.hook
def map_query(_context: Any, query: Any) -> Any:
    return _ordered(query)


@schemathesis.hook
def map_body(_context: Any, body: Any) -> Any:
    return _ordered(body)
