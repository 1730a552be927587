"""``gradewatch up`` as a person runs it: everything starts, Ctrl-C stops everything, and a
service that dies takes the others down instead of leaving them half-running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.platform import kill_session, start_up, wait_until_answers
from tests.support.platform import session_processes as _session_processes

pytestmark = pytest.mark.slow


def _wait_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    wait_until_answers(url, process, lambda: log.read_text(errors="replace"), timeout)


def _start(tmp_path: Path) -> tuple[subprocess.Popen, int, int, Path]:
    return start_up(tmp_path, f"sqlite:///{tmp_path / 'var' / 'g.db'}")


def test_up_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    process, port, dagster_port, log = _start(tmp_path)
    try:
        _wait_up(f"http://127.0.0.1:{port}/health", process, log)
        _wait_up(f"http://127.0.0.1:{dagster_port}/server_info", process, log)
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/" in text and f"http://127.0.0.1:{dagster_port}/" in text
        token = text.split("token ('up-", 1)[1].splitlines()[1].strip()
        assert token.startswith("gw_")
        deadline = time.monotonic() + 60  # the daemon may still be starting when the UIs answer
        while not any("dagster-daemon" in p for p in _session_processes(process.pid)):
            assert time.monotonic() < deadline, _session_processes(process.pid)
            time.sleep(1)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        assert process.wait(timeout=60) == 0
        time.sleep(1)
        assert _session_processes(process.pid) == []
    finally:
        kill_session(process.pid)


def test_a_dead_service_stops_the_others(tmp_path: Path) -> None:
    process, port, _dagster_port, log = _start(tmp_path)
    try:
        _wait_up(f"http://127.0.0.1:{port}/health", process, log)
        web = [p for p in _session_processes(process.pid) if "gradewatch serve" in p]
        os.kill(int(web[0].split()[0]), signal.SIGKILL)
        assert process.wait(timeout=60) == 1
        assert "the web app stopped" in log.read_text()
        time.sleep(1)
        assert _session_processes(process.pid) == []
    finally:
        kill_session(process.pid)
