"""A database error never quotes the statement's parameters (issue 13, item 11), on both backends."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from gradewatch.storage.tables import student_reports

MARKER = "zq9x-private-id"


def test_a_database_error_does_not_quote_its_parameters(engine) -> None:
    row = {"user_id": MARKER, "start_date_period": date(2026, 1, 12), "end_date_period": date(2026, 6, 30)}
    # created_at is NOT NULL: the insert fails inside the database, with the id bound.
    with pytest.raises(sa.exc.DBAPIError) as failure, engine.begin() as conn:
        conn.execute(sa.insert(student_reports), [row])
    text = str(failure.value)
    assert "hidden due to hide_parameters" in text
    # PostgreSQL's own DETAIL line quotes the failing row whatever the client does: that is
    # why the web app never logs an exception's text (tests/web/test_error_logging.py).
    assert [line for line in text.splitlines() if MARKER in line and not line.startswith("DETAIL:")] == []
