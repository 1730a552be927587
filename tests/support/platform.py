"""Helpers for the tests that start the whole platform (``gradewatch up``, ``make run``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.support.server import free_port


def session_processes(sid: int) -> list[str]:
    """Live processes of the session; a <defunct> one has already exited and only awaits its reaper
    (in a container without an init that reaps, orphans stay that way)."""
    listing = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "-s", str(sid)], capture_output=True, text=True,
                             check=False).stdout
    return [line.strip() for line in listing.splitlines() if line.strip() and "<defunct>" not in line]


def start_up(tmp_path: Path, database_url: str) -> tuple[subprocess.Popen, int, int, Path]:
    """``gradewatch up --no-demo`` in a session of its own, its output in ``tmp_path/up.log``:
    the process, the web app's and the Dagster UI's ports, the log."""
    port, dagster_port = free_port(), free_port()
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": database_url, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gradewatch", "up", "--port", str(port), "--dagster-port", str(dagster_port),
             "--no-demo"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return process, port, dagster_port, log


def kill_session(sid: int) -> None:
    """SIGKILL every process of the session: what a failed test must not leave behind (the
    platform's services run in process groups of their own, so killing ``up``'s group is not enough)."""
    for line in session_processes(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def wait_until_answers(url: str, process: subprocess.Popen, output: Callable[[], str], timeout: float) -> None:
    """Poll ``url`` until it answers 200, failing with the tail of ``output`` if ``process`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, output()[-4000:]
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {timeout}s\n{output()[-4000:]}")
