"""The boundaries of docs/architecture.md hold: import-linter's contracts (pyproject.toml) pass.

The core never imports Flask or Dagster or the shells; storage imports no domain module; the
web pages do not import the API module; domain packages do not import the lifecycle or the CLI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.server import ROOT


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
