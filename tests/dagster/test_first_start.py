"""A newcomer's first start, as the README says it: ``make run`` in a terminal, on an empty database.

``make run`` runs in a real pseudo-terminal (its controlling terminal, as in a shell), so Ctrl-C is
the byte ^C typed into it: the terminal sends SIGINT to its foreground process group, as it would
for a person. The demo history is loaded, the platform serves a champion model and a report, the
printed summary says where to click, and Ctrl-C ends ``make`` with status 0 and no process left.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.platform import kill_session, wait_until_answers
from tests.support.platform import session_processes as _session_processes
from tests.support.server import ROOT, free_port

pytestmark = pytest.mark.slow
DEMO_LOAD_SECONDS = 1500  # a bound, not a target: the demo trains models on a shared 2-core machine


class Terminal:
    """``command`` with a pseudo-terminal as its controlling terminal; its output kept in ``text``."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()

        def become_terminal_owner() -> None:  # after setsid(), in the child
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True, preexec_fn=become_terminal_owner)
        os.close(slave)
        self.chunks: list[bytes] = []
        threading.Thread(target=self._drain, daemon=True).start()  # a full terminal would block make

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def type_ctrl_c(self) -> None:
        os.write(self.master, b"\x03")


def _wait_for(url: str, terminal: Terminal, timeout: float) -> None:
    wait_until_answers(url, terminal.process, lambda: terminal.text, timeout)


def test_make_run_on_an_empty_database_shows_the_demo_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    port, dagster_port = free_port(), free_port()
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'gradewatch.db'}",
           "DAGSTER_HOME": str(tmp_path / "dagster_home"), "TERM": "dumb"}
    env.pop("GRADEWATCH_TRAINING_PROFILE", None)
    terminal = Terminal(["make", "-C", str(ROOT), "run", f"ARGS=--port {port} --dagster-port {dagster_port}"],
                        env, tmp_path)
    try:
        _wait_for(f"http://127.0.0.1:{port}/health", terminal, DEMO_LOAD_SECONDS)
        _wait_for(f"http://127.0.0.1:{dagster_port}/server_info", terminal, 180)
        text = terminal.text
        assert "The database is empty: loading the demo history" in text
        assert f"http://127.0.0.1:{port}/reports" in text and f"http://127.0.0.1:{dagster_port}/assets" in text
        assert "yaml-defined logging configuration" not in text
        token = re.search(r"^(gw_\S+)\s*$", text, re.M).group(1)
        model = requests.get(f"http://127.0.0.1:{port}/model", timeout=30)
        assert model.status_code == 200 and model.json()["version"]  # a champion
        semester = re.search(r"then download (\S+): the students at risk", text).group(1)
        start, end = semester.split("_")
        report = requests.get(f"http://127.0.0.1:{port}/get-report",
                              params={"start_date_period": start, "end_date_period": end},
                              headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert report.status_code == 200 and report.text.count("\n") > 100, report.text[:300]
        deadline = time.monotonic() + 120  # the daemon may still be starting when the UIs answer
        while not any("dagster-daemon" in p for p in _session_processes(terminal.process.pid)):
            assert time.monotonic() < deadline, _session_processes(terminal.process.pid)
            time.sleep(1)

        typed = time.monotonic()
        terminal.type_ctrl_c()
        assert terminal.process.wait(timeout=60) == 0, terminal.text[-3000:]
        print(f"make run ended {time.monotonic() - typed:.1f} s after Ctrl-C")  # a figure for the report
        shutdown = terminal.text.split("stopping ...", 1)[-1]
        assert "make: ***" not in shutdown and "gradewatch up: the" not in shutdown, shutdown
        time.sleep(1)
        assert _session_processes(terminal.process.pid) == []
    finally:
        kill_session(terminal.process.pid)
        os.close(terminal.master)
