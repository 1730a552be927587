"""``gradewatch up``: the whole platform on one machine, as child processes of one command.

The web app, the Dagster webserver and the Dagster daemon start together; Ctrl-C (or SIGTERM)
stops all three cleanly, and if one of them dies the others are stopped too, so nothing is
left running half-way.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

STOP_TIMEOUT_SECONDS = 20


@dataclass
class Service:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None


def executable(name: str) -> str:
    """A console script of this environment (beside the running Python), else from PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed in this environment")
    return found


def platform_services(*, host: str, port: int, dagster_port: int, workspace: Path) -> list[Service]:
    return [
        Service("web app", [sys.executable, "-m", "gradewatch", "serve", "--host", host, "--port", str(port)]),
        Service("dagster webserver", [executable("dagster-webserver"), "-h", host, "-p", str(dagster_port),
                                      "-w", str(workspace)]),
        Service("dagster daemon", [executable("dagster-daemon"), "run", "-w", str(workspace)]),
    ]


class Supervisor:
    def __init__(self, services: list[Service], env: dict[str, str]) -> None:
        self.services, self.env = services, env
        self._stopping = False

    def start(self) -> None:
        for service in self.services:
            service.process = subprocess.Popen(service.command, env=self.env)

    def wait(self) -> int:
        """Block until Ctrl-C / SIGTERM (exit 0) or until a service dies (exit 1)."""
        previous = signal.signal(signal.SIGTERM, self._on_term)
        try:
            while True:
                for service in self.services:
                    code = service.process.poll() if service.process else None
                    if code is not None and not self._stopping:
                        print(f"gradewatch up: the {service.name} stopped (exit {code}); stopping the rest",
                              file=sys.stderr)
                        self.stop()
                        return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\ngradewatch up: stopping ...", file=sys.stderr)
            self.stop()
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _on_term(self, _signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    def stop(self) -> None:
        self._stopping = True
        # A terminal's Ctrl-C reaches every process of the group, and `uv run` forwards one
        # more: once stopping, further interrupts must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        running = [s.process for s in self.services if s.process and s.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
