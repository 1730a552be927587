"""An unexpected error is logged by its type and the code it went through, never by its text,
which can carry row values (issue 13, item 11), on both backends."""

from __future__ import annotations

import logging

import pytest

MARKER = "zq9x-private-id"


def test_an_unexpected_error_logs_no_value(app, client, caplog: pytest.LogCaptureFixture) -> None:
    def lookup() -> str:
        return {}[MARKER]  # a KeyError quotes the missing key: here, a user_id

    app.add_url_rule("/_boom", "boom", lookup)
    caplog.set_level(logging.DEBUG)
    answer = client.get("/_boom")
    assert answer.status_code == 500
    assert MARKER not in answer.get_data(as_text=True)
    records = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert records and "KeyError" in records[0].getMessage() and "in lookup" in records[0].getMessage()
    assert all(r.exc_info is None for r in records)
    assert MARKER not in caplog.text
