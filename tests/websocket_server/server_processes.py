"""Real servers for the relay tests: gunicorn subprocesses on free loopback ports.

``ServerProcess`` runs one gunicorn command in its own process group with its output in a log
file, waits for a health URL, and can be killed (SIGKILL, as a crash) and started again on the
same port. ``relay_command`` is the relay exactly as users start it (from websocket_server/).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RELAY_FOLDER = REPO_ROOT / "websocket_server"
GUNICORN = [sys.executable, "-m", "gunicorn"]


def relay_command(port: int) -> list[str]:
    """The documented relay command line, on ``port``."""
    return GUNICORN + ["-b", f"127.0.0.1:{port}", "-k", "flask_sockets.worker", "--no-control-socket", "main:app"]


class ServerProcess:
    """A gunicorn server run as a child process group; ``stop()`` always leaves nothing behind."""

    def __init__(self, name: str, command: list[str], cwd: Path, environment: dict[str, str], port: int,
                 health_path: str, log_path: Path, start_timeout_s: float = 120.0):
        self.name = name
        self.command = command
        self.cwd = cwd
        self.environment = {**os.environ, "PYTHONUNBUFFERED": "1", **environment}
        self.port = port
        self.health_path = health_path
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerProcess":
        self._log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, cwd=str(self.cwd), env=self.environment,
                                        stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + self.health_path, timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.health_path} in {self.start_timeout_s} s:\n"
                           f"{self.log_text()[-3000:]}")

    def _signal(self, number: int) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, number)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        """Crash the server: SIGKILL to the whole process group (master and workers)."""
        self._signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; also kills workers left behind by the master."""
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._signal(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
