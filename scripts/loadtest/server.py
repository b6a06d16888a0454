"""gunicorn serving ``search_app.wsgi:app`` on an index, started and stopped by the load test."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from indexer.cli import gunicorn_worker_options

PROJECT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def get(port: int, target: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """One GET on a new connection: status and body."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Server:
    """gunicorn on ``data_dir`` with ``workers`` processes of ``threads`` threads (more than 1: gthread workers).

    The rate limit is off (``KB_RATE_LIMIT=off``): every client of a load test has the same address, and would be
    answered 429 after a few hundred questions. ``environment`` adds variables (the admin token of the API writes).
    """

    def __init__(self, data_dir: Path, workers: int, threads: int = 1, environment: dict[str, str] | None = None,
                 startup_timeout: float = 120.0):
        self.data_dir = data_dir
        self.workers = workers
        self.threads = threads
        self.environment = environment or {}
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.ready_seconds = 0.0
        self._log = tempfile.TemporaryFile()

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "gunicorn", "--config", "python:search_app.gunicorn_conf",
                   "--bind", f"{HOST}:{self.port}", *gunicorn_worker_options(self.workers, self.threads)]
        if _has_control_socket():
            # Newer gunicorns listen on one control socket per user (~/.gunicorn): leave a running server's alone.
            command.append("--no-control-socket")
        return [*command, "search_app.wsgi:app"]

    def start(self) -> None:
        """Start gunicorn and wait until ``/api/health`` answers 200.

        Raises:
            RuntimeError: the server exited or did not answer in time (with the end of its log).
        """
        environment = {**os.environ, **self.environment, "KB_DATA_DIR": str(self.data_dir), "KB_RATE_LIMIT": "off"}
        started = time.monotonic()
        # Access log lines go to stdout: thrown away, so that a full pipe never blocks a worker.
        self.process = subprocess.Popen(self.command(), cwd=PROJECT, env=environment, stdout=subprocess.DEVNULL,
                                        stderr=self._log, start_new_session=True)
        while time.monotonic() - started < self.startup_timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                if get(self.port, "/api/health", timeout=5)[0] == 200:
                    self.ready_seconds = time.monotonic() - started
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /api/health within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (gunicorn lets its workers finish their requests), then wait; SIGKILL only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        self._log.seek(0)
        return "\n".join(self._log.read().decode(errors="replace").splitlines()[-lines:])

    def worker_class(self) -> str:
        """The worker class gunicorn says it uses ("sync", "gthread"), from its log."""
        self._log.seek(0)
        found = re.search(rb"Using worker: (\w+)", self._log.read())
        return found.group(1).decode() if found else "unknown"

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()


def _has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any("--no-control-socket" in (setting.cli or []) for setting in KNOWN_SETTINGS)
