"""``gradewatch token create --expires-in`` and ``token list`` (issue 13, item 14), as a real
subprocess against both backends."""

from __future__ import annotations

import re

from gradewatch.storage import make_engine
from gradewatch.storage.db import utcnow
from gradewatch.storage.tokens import authenticate
from tests.cli.test_tokens_and_db import run_cli


def test_a_token_with_an_expiry_is_listed_with_it(database_url: str) -> None:
    created = run_cli("token", "create", "--name", "term", "--expires-in", "90d", url=database_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert ", expires 20" in created.stdout
    engine = make_engine(database_url)
    info = authenticate(engine, token)
    engine.dispose()
    remaining = info.expires_at.replace(tzinfo=utcnow().tzinfo) - utcnow()
    assert 89 < remaining.total_seconds() / 86_400 <= 90
    run_cli("token", "create", "--name", "forever", url=database_url)
    listed = run_cli("token", "list", url=database_url).stdout
    assert re.search(r"^term\treport,upload\tactive\texpires \d{4}-\d\d-\d\d \d\d:\d\d UTC\t", listed, re.M)
    assert re.search(r"^forever\treport,upload\tactive\tnever expires\t", listed, re.M)


def test_a_bad_expiry_explains_itself(database_url: str) -> None:
    result = run_cli("token", "create", "--name", "x", "--expires-in", "90 years", url=database_url)
    assert result.returncode != 0
    assert "12h, 90d or 8w" in result.stderr
    assert "Traceback" not in result.stderr
