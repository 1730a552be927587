"""One JSON-plain copy of a value, for every place that stores or ships JSON.

numpy scalars become Python ones, NaN and infinity become None (JSON, and PostgreSQL's jsonb,
have neither), dates become ISO text, and mappings and sequences are copied with plain values.
Logs ask for more: ``redact=True`` bounds the depth and size of what is copied and turns any
other object (a DataFrame, a model) into its type name, so that no rows can reach a log record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

_MAX_DEPTH = 4  # with redact: deeper structures are not copied
_MAX_ITEMS = 100  # with redact: longer sequences are not copied


def plain(value: Any, *, redact: bool = False, _depth: int = 0) -> Any:
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():  # a numpy scalar
        value = item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    nested = not redact or _depth < _MAX_DEPTH
    if nested and isinstance(value, Mapping):
        return {str(k): plain(v, redact=redact, _depth=_depth + 1) for k, v in value.items()}
    if nested and isinstance(value, list | tuple | set | frozenset) and (not redact or len(value) <= _MAX_ITEMS):
        return [plain(v, redact=redact, _depth=_depth + 1) for v in value]
    return f"<{type(value).__name__}>" if redact else value
