"""Real ``helpdesk`` processes for multi-process tests: the console script run as subprocesses on loopback.

``HelpdeskProcesses`` is a context manager that starts ``helpdesk serve`` and ``helpdesk worker`` processes with
their output in files (a pipe nobody reads would fill and stall them), and always ends them: SIGTERM, then SIGKILL
after a grace period. A process that exits early or never becomes ready fails the test with its output shown.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HELPDESK = Path(sys.executable).parent / "helpdesk"
HOST = "127.0.0.1"
STOP_GRACE = 15.0  # seconds a process gets after SIGTERM before SIGKILL (a worker lets its running jobs finish)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any HELPDESK_* setting, DATABASE_URL or FLASK_APP, plus ``extra``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("HELPDESK_") and key not in ("DATABASE_URL", "FLASK_APP")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    """Run ``helpdesk ARGS`` to completion; returns its stdout, fails the test with its output otherwise."""
    try:
        done = subprocess.run([str(HELPDESK), *args], env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`helpdesk {' '.join(args)}` did not finish in {timeout:.0f} s:\n{exc.stdout}\n{exc.stderr}",
                    pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"`helpdesk {' '.join(args)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return done.stdout


@dataclass
class HelpdeskProcess:
    """One started process: its name, the Popen, and the file its stdout and stderr go to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        """Fail the test, with the process's output, when it has exited."""
        if not self.alive():
            pytest.fail(f"{self.name} exited with status {self.popen.returncode}:\n{self.tail()}", pytrace=False)


@dataclass
class HelpdeskProcesses:
    """Start ``helpdesk`` subprocesses sharing one environment; :meth:`close` ends every one of them."""

    env: dict[str, str]
    workdir: Path
    started: list[HelpdeskProcess] = field(default_factory=list)

    def start(self, name: str, *args: str, port: int | None = None) -> HelpdeskProcess:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen([str(HELPDESK), *args], env=self.env, cwd=self.workdir, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        process = HelpdeskProcess(name, popen, log_path, port)
        self.started.append(process)
        return process

    def web(self, name: str, *extra: str) -> HelpdeskProcess:
        """``helpdesk serve --no-jobs`` on a free loopback port (ready once it answers HTTP: see wait_ready)."""
        port = free_port()
        return self.start(name, "serve", "--no-jobs", "--host", HOST, "--port", str(port), *extra, port=port)

    def worker(self, name: str) -> HelpdeskProcess:
        return self.start(name, "worker")

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until every web process answers /healthz (any status) and every worker has started its jobs."""
        deadline = time.monotonic() + timeout
        for process in self.started:
            while not self._ready(process):
                process.check_alive()
                if time.monotonic() > deadline:
                    pytest.fail(f"{process.name} was not ready within {timeout:.0f} s:\n{process.tail()}",
                                pytrace=False)
                time.sleep(0.1)

    @staticmethod
    def _ready(process: HelpdeskProcess) -> bool:
        if process.port is None:
            return "Worker running" in process.output()
        try:
            with urllib.request.urlopen(f"{process.url}/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:  # 503: answering, some check fails (no job has run yet)
            return True
        except OSError:
            return False

    def check_alive(self) -> None:
        for process in self.started:
            process.check_alive()

    def logs(self) -> str:
        return "\n".join(f"--- {process.name} ---\n{process.tail()}" for process in self.started)

    def close(self) -> None:
        """SIGTERM every process still running, then SIGKILL (its whole session) what is left after the grace."""
        for process in self.started:
            if process.alive():
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in self.started:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.popen.wait(timeout=10)


@contextmanager
def helpdesk_processes(env: dict[str, str], workdir: Path) -> Iterator[HelpdeskProcesses]:
    """A HelpdeskProcesses whose processes are ended however the block is left."""
    processes = HelpdeskProcesses(env=env, workdir=workdir)
    try:
        yield processes
    finally:
        processes.close()
