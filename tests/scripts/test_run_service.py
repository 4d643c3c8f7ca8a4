"""scripts/run_service.py and its shell wrapper: the whole local stack as real processes.

The script is run as users run it (a subprocess that prints the URL), then stopped with SIGINT
(Ctrl-C) or SIGTERM; no process of any tier may outlive it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, free_port

SCRIPT = REPO_ROOT / "scripts" / "run_service.py"
WRAPPER = REPO_ROOT / "scripts" / "run_service.sh"


def sessions_of_descendants(root_pid: int) -> set[int]:
    """Session ids of every live descendant of ``root_pid`` (each tier leads its own session)."""
    parents: dict[int, int] = {}
    sessions: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        sessions[int(entry.name)] = int(fields[3])
    found, frontier = set(), [root_pid]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return {sessions[pid] for pid in found if pid in sessions}


def live_processes_in_sessions(session_ids: set[int]) -> list[str]:
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[3]) in session_ids and fields[0] != "Z":
            alive.append(f"{entry.name}: {command}")
    return alive


class RunningScript:
    """``run_service.py ARGS`` as a subprocess, its output collected line by line."""

    def __init__(self, *arguments: str):
        environment = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen([sys.executable, str(SCRIPT), *arguments], cwd=REPO_ROOT, env=environment,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []

    def wait_for_line(self, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if text in line:
                return line
        self.kill()
        pytest.fail(f"run_service.py never printed {text!r}; output:\n{''.join(self.lines)}")

    def finish(self, timeout_s: float = 60) -> tuple[int, str]:
        rest, _ = self.process.communicate(timeout=timeout_s)
        self.lines.append(rest)
        return self.process.returncode, "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def run_until_up_then_signal(arguments: list[str], signal_number: int, timeout_s: float) -> tuple[str, str]:
    script = RunningScript(*arguments)
    try:
        line = script.wait_for_line("Face-swap service is up: open ", timeout_s)
        url = line.split("open ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode()
        sessions = sessions_of_descendants(script.process.pid)
        assert len(sessions) >= 2, "every tier runs in its own process group/session"
        script.process.send_signal(signal_number)
        code, output = script.finish()
    finally:
        script.kill()
    assert code == 0, output
    assert "Stopped." in output
    assert live_processes_in_sessions(sessions) == [], "no tier may outlive the script"
    return url, output + "\n" + page


def test_full_stack_starts_prints_url_and_stops_on_ctrl_c(test_model_dir):
    ports = [free_port(), free_port(), free_port()]
    arguments = ["--prediction-port", str(ports[0]), "--relay-port", str(ports[1]), "--page-port", str(ports[2]),
                 "--model-dir", str(test_model_dir)]
    url, output = run_until_up_then_signal(arguments, signal.SIGINT, timeout_s=300)
    assert url == f"http://127.0.0.1:{ports[2]}/"
    assert f"ws://127.0.0.1:{ports[1]}/stream" in output          # printed, and injected into the page
    assert "I understand the output is synthetic" in output
    assert "STAND-IN" not in output


def test_relay_and_page_stop_on_sigterm():
    ports = [free_port(), free_port(), free_port()]
    arguments = ["--prediction-port", str(ports[0]), "--relay-port", str(ports[1]), "--page-port", str(ports[2]),
                 "--no-start-prediction-server"]
    url, output = run_until_up_then_signal(arguments, signal.SIGTERM, timeout_s=120)
    assert url == f"http://127.0.0.1:{ports[2]}/"
    assert "no prediction server started" in output


def test_a_missing_model_directory_is_named_and_nothing_starts(tmp_path):
    missing = tmp_path / "no-such-model"
    result = subprocess.run([sys.executable, str(SCRIPT), "--model-dir", str(missing), "--page-port", str(free_port()),
                             "--relay-port", str(free_port()), "--prediction-port", str(free_port())],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"error: model directory {missing} does not exist" in result.stderr


def test_a_tier_that_cannot_start_is_reported_with_its_log(tmp_path):
    taken = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", taken))
        blocker.listen()
        result = subprocess.run([sys.executable, str(SCRIPT), "--no-start-prediction-server",
                                 "--page-port", str(taken), "--relay-port", str(free_port()),
                                 "--prediction-port", str(free_port()), "--health-timeout-s", "60",
                                 "--log-dir", str(tmp_path)],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1
    assert "error: the webcam page exited with code" in result.stderr
    assert str(tmp_path / "webcam-page.log") in result.stderr


def test_shell_wrapper_reuses_an_up_to_date_environment(tmp_path):
    """With the lock's hash stamped in the environment, the wrapper installs nothing and hands over."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    lock_hash = subprocess.run(["sha256sum", str(REPO_ROOT / "requirements.lock")], capture_output=True,
                               text=True, check=True).stdout.split()[0]
    (venv / ".requirements.lock.sha256").write_text(lock_hash + "\n")
    result = subprocess.run(["bash", str(WRAPPER), "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, FACESWAP_VENV=str(venv)))
    assert result.returncode == 0, result.stderr
    assert "Installing" not in result.stdout and "Creating" not in result.stdout
    assert "--page-port" in result.stdout and "--model-dir" in result.stdout


def test_model_directory_choice(tmp_path, monkeypatch, test_model_dir):
    """An explicit folder wins; then models/default; without it the stand-in test model is used."""
    import shutil

    from scripts import run_service

    bundled = tmp_path / "models" / "default"
    stand_in = tmp_path / "workspace" / "stand-in-model"
    monkeypatch.setattr(run_service, "DEFAULT_MODEL_DIR", bundled)
    monkeypatch.setattr(run_service, "STAND_IN_MODEL_DIR", stand_in)
    # A stand-in built earlier is reused, not rebuilt (building one is what test_model_dir does).
    shutil.copytree(test_model_dir, stand_in)
    assert run_service.resolve_model_dir(None) == (stand_in, True)
    shutil.copytree(test_model_dir, bundled)
    assert run_service.resolve_model_dir(None) == (bundled, False)
    assert run_service.resolve_model_dir(test_model_dir) == (test_model_dir, False)


def test_prediction_workers_are_processes_with_one_frame_at_a_time_by_default():
    from scripts.run_service import LocalStack, StackSettings

    default = StackSettings()
    assert default.prediction_threads == 1 and default.prediction_workers == min(os.cpu_count() or 1, 4)
    assert LocalStack(default)._prediction_worker_options() == ["-k", "sync"]
    threaded = LocalStack(StackSettings(prediction_threads=4))._prediction_worker_options()
    assert threaded == ["-k", "gthread", "--threads", "4"]


def _group_leader_running(root_pid: int, words: str) -> int:
    """The pid of the descendant of ``root_pid`` that leads its own process group and runs ``words``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if words in command and int(fields[1]) == root_pid and int(fields[2]) == int(entry.name):
            return int(entry.name)
    raise AssertionError(f"no child of {root_pid} runs {words!r}")


def _get_json(url: str) -> tuple[int, dict]:
    import json
    import urllib.error

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}
    except OSError:
        return 0, {}


def test_a_dead_prediction_server_is_restarted_with_back_off_while_the_relay_degrades(test_model_dir):
    ports = [free_port(), free_port(), free_port()]
    script = RunningScript("--prediction-port", str(ports[0]), "--relay-port", str(ports[1]), "--page-port",
                           str(ports[2]), "--model-dir", str(test_model_dir), "--prediction-workers", "1",
                           "--restart-backoff-s", "2")
    try:
        script.wait_for_line("Face-swap service is up: open ", 300)
        sessions = sessions_of_descendants(script.process.pid)
        server = _group_leader_running(script.process.pid, "prediction_routine.server")
        os.killpg(server, signal.SIGKILL)             # a crash: master and workers at once
        killed_at = time.monotonic()
        # The relay stays up and says the routine is unavailable.
        deadline = killed_at + 30
        relay_health = {}
        while time.monotonic() < deadline:
            status, relay_health = _get_json(f"http://127.0.0.1:{ports[1]}/healthz")
            if status == 200 and relay_health.get("status") == "degraded":
                break
            time.sleep(0.2)
        assert relay_health.get("status") == "degraded", relay_health
        script.wait_for_line("restarted the prediction server", 60)
        assert time.monotonic() - killed_at >= 1.9, "the restart waits for its back-off"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and _get_json(f"http://127.0.0.1:{ports[0]}/health")[0] != 200:
            time.sleep(0.5)
        assert _get_json(f"http://127.0.0.1:{ports[0]}/health")[0] == 200, "the prediction server came back"
        assert _group_leader_running(script.process.pid, "prediction_routine.server") != server
        sessions |= sessions_of_descendants(script.process.pid)
        script.process.send_signal(signal.SIGINT)
        code, output = script.finish()
    finally:
        script.kill()
    assert code == 0 and "Stopped." in output, output
    assert "exited with code" in output and "starting it again in 2.0 s" in output, output
    assert live_processes_in_sessions(sessions) == [], "no tier may outlive the script"
