"""Start the real web app (``gradewatch serve`` under waitress) in a subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(database_url: str, workdir: Path, extra_env: dict[str, str] | None = None,
                   threads: int = 8, *, audit_tempfiles: bool = False,
                   start_timeout: float = 60) -> Iterator[str]:
    """Yield the base URL of a live server; the process is stopped on exit."""
    port = free_port()
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": database_url,
           "DAGSTER_HOME": str(workdir / "dagster_home"), **(extra_env or {})}
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.audited_serve" if audit_tempfiles else "gradewatch",
             "serve", "--port", str(port), "--threads", str(threads)],
            env={**env, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, process, log_path, start_timeout)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(base: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            requests.get(f"{base}/health", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer within {timeout:.0f} s:\n{log_path.read_text(errors='replace')}")
    raise RuntimeError(f"server did not start within {timeout}s:\n{log_path.read_text(errors='replace')}")
