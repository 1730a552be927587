"""``gradewatch up``: the whole platform on one machine, as child processes of one command.

The web app, the Dagster webserver and the Dagster daemon start together; Ctrl-C (or SIGTERM)
stops all three, and what they started, within :data:`STOP_TIMEOUT_SECONDS`, and the command
exits 0. If one of them dies on its own the others are stopped too and the command exits 1,
so nothing is left running half-way.

Who receives Ctrl-C matters. A terminal sends SIGINT to its whole foreground process group:
``make``, ``uv run``, this command and, by default, its children. Each child would then stop
on its own (the daemon exits 0 at once, which looked like a crash), and ``make``, interrupted
itself, would end with an error whatever this command returned. So each service runs in its
own process group (only the supervisor tells it to stop, once, and can stop its grandchildren,
the Dagster code servers and run workers, with it), and when this command runs in a terminal's
foreground it takes the foreground for its own group: Ctrl-C reaches only the supervisor, which
stops everything, gives the terminal back and exits 0, and ``make run`` with it.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from gradewatch_assets import DAGSTER_LOGGING_BETA_MESSAGE

# Ctrl-C must end everything within 10 s (what a person waits before reaching for kill): the
# services get SIGINT, SIGTERM after GRACE_SECONDS, SIGKILL at STOP_TIMEOUT_SECONDS, and the
# token revocation and the process exits fit in what is left. Measured with make run after a
# demo at load 20 on 2 cores, with a 6 s deadline: 7.7 / 9.8 / 10.7 s from Ctrl-C to make's exit,
# so the deadline leaves 4 s for the rest.
STOP_TIMEOUT_SECONDS = 5
GRACE_SECONDS = 2
KILL_WAIT_SECONDS = 1
POLL_SECONDS = 0.2
# See gradewatch_assets/__init__.py: the daemon and the webserver never import this package.
DAGSTER_LOGGING_BETA_FILTER = f"ignore:{DAGSTER_LOGGING_BETA_MESSAGE}"


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


def service_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the Dagster beta warning filtered out (see :data:`DAGSTER_LOGGING_BETA_FILTER`)."""
    filters = [f for f in env.get("PYTHONWARNINGS", "").split(",") if f]
    return {**env, "PYTHONWARNINGS": ",".join([*filters, DAGSTER_LOGGING_BETA_FILTER])}


class _Terminal:
    """The controlling terminal's foreground, taken for this process's own group and given back."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.previous: int | None = None

    def take(self) -> None:
        if os.name == "nt" or not os.isatty(0):
            return
        with suppress(OSError):
            previous = os.tcgetpgrp(0)
            if previous != os.getpgrp():
                return  # started in the background: leave the terminal alone
            os.setpgid(0, 0)
            self._set(os.getpgrp())
            self.fd, self.previous = 0, previous

    def give_back(self) -> None:
        if self.fd is not None and self.previous is not None:
            with suppress(OSError):
                self._set(self.previous)
            self.fd = self.previous = None

    @staticmethod
    def _set(group: int) -> None:
        # A process that is not (or no longer) in the foreground gets SIGTTOU for this call.
        previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(0, group)
        finally:
            signal.signal(signal.SIGTTOU, previous)


class Supervisor:
    """Starts the services and stops them all, on Ctrl-C, on SIGTERM, or when one of them dies.

    Ctrl-C is ours from the moment :meth:`start` begins (not only while :meth:`wait` waits): a
    Ctrl-C typed while the services are starting must stop them too, never leave them running
    without a parent. :meth:`close` stops whatever still runs, whatever happened before it.
    """

    def __init__(self, services: list[Service], env: dict[str, str]) -> None:
        self.services, self.env = services, service_environment(env)
        self._stop_requested = threading.Event()
        self._terminal = _Terminal()
        self._handlers: dict[int, object] = {}

    def start(self) -> None:
        self._handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        self._terminal.take()
        for service in self.services:
            if self._stop_requested.is_set():
                return  # Ctrl-C while starting: start nothing more; wait() stops what runs
            # Its own process group: see the module's docstring.
            service.process = subprocess.Popen(service.command, env=self.env, stdin=subprocess.DEVNULL,
                                               process_group=0 if os.name != "nt" else None)

    def wait(self) -> int:
        """Block until Ctrl-C / SIGTERM (exit 0) or until a service dies (exit 1)."""
        try:
            while not self._stop_requested.wait(POLL_SECONDS):
                dead = next((s for s in self.services if s.process and s.process.poll() is not None), None)
                if dead is not None:
                    print(f"gradewatch up: the {dead.name} stopped (exit {dead.process.returncode}); "
                          "stopping the rest", file=sys.stderr)
                    self.stop()
                    return 1
            print("\ngradewatch up: stopping ...", file=sys.stderr)
            self.stop()
            return 0
        finally:
            self.close()

    def close(self) -> None:
        """Stop what still runs (after an error between start and wait, say), give the signals
        and the terminal back. Safe to call more than once."""
        if any(s.process is not None and (s.process.poll() is None or _group_alive(s.process))
               for s in self.services):
            self.stop()
        for sig, previous in self._handlers.items():
            signal.signal(sig, previous)
        self._handlers = {}
        self._terminal.give_back()

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self._stop_requested.set()  # a second Ctrl-C changes nothing: the stop is under way

    def stop(self) -> None:
        """SIGINT to each service; SIGTERM to a slow one; what a stopped service left behind (its
        code servers, their run workers) gets SIGTERM; at :data:`STOP_TIMEOUT_SECONDS` whatever
        is left gets SIGKILL. One deadline for all of it, so that Ctrl-C ends ``make run`` within
        the ten seconds a person waits, whatever a service does with its signals."""
        processes = [s.process for s in self.services if s.process is not None]
        for process in processes:
            # The leader only: it stops its own code servers in order; stopping them under its
            # feet would make it print the failed calls.
            with suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
        started = time.monotonic()
        hurried: set[int] = set()
        while time.monotonic() - started < STOP_TIMEOUT_SECONDS:
            waiting = False
            for process in processes:
                if process.poll() is None:
                    if process.pid not in hurried and time.monotonic() - started > GRACE_SECONDS:
                        process.terminate()
                        hurried.add(process.pid)
                    waiting = True
                elif _group_alive(process):
                    _signal_group(process, signal.SIGTERM)
                    waiting = True
            if not waiting:
                return
            time.sleep(POLL_SECONDS)
        for process in processes:
            _signal_group(process, signal.SIGKILL if os.name != "nt" else signal.SIGTERM)
        reaped_by = time.monotonic() + KILL_WAIT_SECONDS  # SIGKILL is not refused: only reaping is left
        for process in processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, reaped_by - time.monotonic()))


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        if os.name == "nt":
            process.send_signal(sig)
        else:
            os.killpg(process.pid, sig)


def _group_alive(process: subprocess.Popen) -> bool:
    """Whether any process of the service's group is still running (not merely awaiting its reaper)."""
    if os.name == "nt":
        return process.poll() is None
    try:
        os.killpg(process.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                # /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == process.pid and fields[0] != "Z":
                    return True
    return False
