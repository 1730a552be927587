"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import scratch_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend, with no migration applied: migration tests start here."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with scratch_postgres() as url:
        yield url
