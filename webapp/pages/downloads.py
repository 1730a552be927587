"""CSV downloads of rows that the server must not keep: rejected rows and ad-hoc predictions.

The result page carries the rows in a hidden form field (JSON); its "Download" button posts
them back and gets them as a CSV attachment. The rows therefore live only in the page the
user is looking at and pass through the server's memory twice; they are never written to the
database, a log or a file, and the ``no-store`` header keeps them out of the browser's cache.
A ``data:`` link would spare the round trip, but how long a data URL may be differs from
browser to browser, while this post is bounded only by the server's upload limit and needs
neither script nor the ``download`` attribute. The rows are made inert (csv_safety) on the way
out, whatever the browser sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from flask import Response, request

from gradewatch.intake.csv_safety import iter_csv
from webapp.pages.blueprint import PageError

PAYLOAD_FIELD = "rows"
_CELL_TYPES = (str, int, float, bool, type(None))


def table_payload(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return json.dumps({"header": list(header), "rows": [list(r) for r in rows]}, separators=(",", ":"))


def _posted_table() -> tuple[list[str], list[list[object]]]:
    try:
        data = json.loads(request.form.get(PAYLOAD_FIELD, ""))
        header, rows = data["header"], data["rows"]
    except (ValueError, TypeError, KeyError) as exc:
        raise PageError(400, "Nothing to download", "The download form was incomplete. "
                        "Go back to the result page and press the download button again.") from exc
    if not (isinstance(header, list) and all(isinstance(h, str) for h in header)
            and isinstance(rows, list)
            and all(isinstance(r, list) and len(r) == len(header)
                    and all(isinstance(c, _CELL_TYPES) for c in r) for r in rows)):
        raise PageError(400, "Nothing to download", "The download form held no table. "
                        "Go back to the result page and press the download button again.")
    return header, rows


def posted_csv(filename: str) -> Response:
    """The table of the posted form as a CSV attachment named ``filename``."""
    header, rows = _posted_table()
    return Response(
        "".join(iter_csv(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
