"""The whole face-swap service on this machine, with one command.

Starts the three tiers on loopback, each in its own process group:

1. the local prediction server (``prediction_routine/server.py`` under gunicorn, ``MODEL_DIR`` set
   to the bundled model ``models/default``; while that model does not exist, a small stand-in test
   model is built and used, and the script says so loudly),
2. the relay (``websocket_server/main.py`` under gunicorn with the Flask-Sockets worker),
3. the webcam page (Django ``runserver`` of ``client_app/``),

waits until every health route answers, prints the page URL, and stops all of them (SIGTERM to each
process group, SIGKILL after a grace period) on Ctrl-C or SIGTERM. No process outlives it.

While it runs it supervises the tiers as a platform would: a tier whose process exits (say the
prediction server, killed or crashed) is started again on its port after a back-off of
``restart_backoff_s`` doubling up to ``max_restart_backoff_s`` (reset once it has run for a
minute); meanwhile the relay answers frames ``degraded``. A process manager was considered:
honcho (in the lock) runs a Procfile but stops every process as soon as one exits and never
restarts; supervisord restarts with back-off but is a daemon with its own configuration and
control socket, and the tests and benchmarks use this module as a library (``LocalStack``), so a
few lines of restart logic here cost less than either.

Command line::

    scripts/run_service.sh                       # creates/updates .venv, then runs this script
    .venv/bin/python scripts/run_service.py --page-port 8080 --model-dir workspace/export

Settings come from defaults <- ``FACESWAP_STACK_*`` environment <- command line.

As a library (tests and benchmarks)::

    with LocalStack(StackSettings(page_port=free_port(), ...)) as stack:
        stack.page_url, stack.websocket_url, stack.prediction_url
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# TensorFlow/MediaPipe chatter (C++ logs) would bury the URL; errors still show. Children inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from faceswap.errors import FaceswapError  # noqa: E402
from faceswap.settings import add_dataclass_arguments, setting, settings_from  # noqa: E402

logger = logging.getLogger("faceswap.local_stack")

ENV_PREFIX = "FACESWAP_STACK_"
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "default"
STAND_IN_MODEL_DIR = REPO_ROOT / "workspace" / "stand-in-model"
PREDICTION, RELAY, PAGE = "prediction server", "relay", "webcam page"


class StackError(FaceswapError):
    """A tier of the local stack could not be started or did not become healthy."""


@dataclass
class StackSettings:
    """Where the three tiers listen and how long to wait for them."""

    host: str = setting("127.0.0.1", "loopback address every tier binds to")
    prediction_port: int = setting(8002, "port of the local prediction server (0: any free port)")
    relay_port: int = setting(8001, "port of the WebSocket relay, ws://HOST:PORT/stream (0: any free port)")
    page_port: int = setting(8000, "port of the Django webcam page (0: any free port)")
    model_dir: Path | None = setting(
        None, "exported model directory to serve (default: models/default, or a clearly labelled "
              "stand-in test model while models/default does not exist)")
    log_dir: Path | None = setting(None, "folder for the three tiers' logs (default: a new temporary folder)")
    health_timeout_s: float = setting(240.0, "how long each tier may take to become healthy, seconds")
    stop_timeout_s: float = setting(10.0, "how long a tier may take to stop after SIGTERM before SIGKILL, seconds")
    restart_backoff_s: float = setting(1.0, "a tier that exits is started again after this long, doubling with "
                                            "each consecutive restart")
    max_restart_backoff_s: float = setting(30.0, "longest wait before restarting a tier that keeps exiting")
    prediction_health_path: str = setting("/health", "health route of the prediction server")
    prediction_workers: int = setting(min(os.cpu_count() or 1, 4),
                                      "prediction worker processes, each with its own model and graphs (~180 MB); "
                                      "one per core serves the most frames per core (docs/performance.md)")
    prediction_threads: int = setting(1, "request threads per prediction worker: 1 = gunicorn's sync worker (one "
                                         "frame at a time per process: no GIL contention, exact CPU accounting), "
                                         "more = gthread")
    start_prediction_server: bool = setting(
        True, "start the local prediction server; off: the relay calls whatever listens on the prediction "
              "port (nothing there: the page shows its degraded mode)")


@dataclass
class Tier:
    """One started tier: its process (a process-group leader), health URL and log file."""

    name: str
    process: subprocess.Popen
    health_url: str
    log_path: Path
    log_file: IO[bytes]
    started_at: float = dataclasses.field(default_factory=time.monotonic)
    restarts: int = 0                     # consecutive restarts (reset after a minute of running)
    restart_at: float | None = None       # when the exited process is to be started again


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the stack process dies without cleaning up (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def resolve_model_dir(requested: Path | None) -> tuple[Path, bool]:
    """The model directory to serve and whether it is the stand-in test model.

    ``requested`` wins; then the bundled ``models/default``; otherwise a small test model is built
    once into ``workspace/stand-in-model`` with the same builder the test suite uses.
    """
    if requested is not None:
        if not Path(requested).is_dir():
            raise StackError(f"model directory {requested} does not exist: pass an exported model folder")
        return Path(requested), False
    if (DEFAULT_MODEL_DIR / "manifest.json").is_file():
        return DEFAULT_MODEL_DIR, False
    return build_stand_in_model(STAND_IN_MODEL_DIR), True


def build_stand_in_model(directory: Path) -> Path:
    """Build (once) the small untrained test model that stands in for models/default."""
    from faceswap.export.test_model import build_test_model_dir

    if (directory / "manifest.json").is_file():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    logger.warning("models/default does not exist: building a STAND-IN test model in %s (about a minute; "
                   "it is barely trained and swaps poorly)", directory)
    return Path(build_test_model_dir(directory, progress=True))


class LocalStack:
    """The three tiers as child processes; a context manager that always stops what it started."""

    def __init__(self, settings: StackSettings | None = None, model_dir: Path | None = None,
                 extra_environment: dict[str, str] | None = None):
        self.settings = _with_free_ports(settings or StackSettings())
        self.requested_model_dir = model_dir if model_dir is not None else self.settings.model_dir
        self.extra_environment = dict(extra_environment or {})
        # The page signs the relay's session tokens with this; both tiers get the same value
        # (an operator's FACESWAP_SESSION_SECRET wins), so the local stack streams as deployed.
        self.extra_environment.setdefault(
            "FACESWAP_SESSION_SECRET", os.environ.get("FACESWAP_SESSION_SECRET") or secrets.token_urlsafe(32))
        self.tiers: list[Tier] = []
        self.model_dir: Path | None = None
        self.uses_stand_in_model = False
        self.log_dir: Path | None = None

    # ------------------------------------------------------------------ addresses

    @property
    def page_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.page_port}/"

    @property
    def websocket_url(self) -> str:
        return f"ws://{self.settings.host}:{self.settings.relay_port}/stream"

    @property
    def relay_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.relay_port}"

    @property
    def prediction_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.prediction_port}"

    def page_origins(self) -> list[str]:
        """The origins a browser shows for the page (the relay allows exactly these)."""
        port = self.settings.page_port
        origins = [f"http://{self.settings.host}:{port}"]
        if self.settings.host in ("127.0.0.1", "localhost"):
            origins += [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
        return list(dict.fromkeys(origins))

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        """Start the three tiers and wait until each one's health route answers."""
        if self.settings.start_prediction_server:
            self.model_dir, self.uses_stand_in_model = resolve_model_dir(self.requested_model_dir)
        if self.settings.log_dir is not None:
            self.log_dir = Path(self.settings.log_dir)
            self.log_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.log_dir = Path(tempfile.mkdtemp(prefix="faceswap-stack-"))
        try:
            names = [PREDICTION, RELAY, PAGE] if self.settings.start_prediction_server else [RELAY, PAGE]
            for name in names:        # all start at once; the model load is the slow part
                self._spawn_tier(name)
            for tier in list(self.tiers):
                self._wait_until_healthy(tier)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM every tier's process group, SIGKILL what is left after the grace period."""
        blocked = _block_stop_signals()
        try:
            for tier in reversed(self.tiers):
                _signal_group(tier.process, signal.SIGTERM)
            deadline = time.monotonic() + self.settings.stop_timeout_s
            for tier in reversed(self.tiers):
                self._reap(tier, deadline)
            self.tiers = []
        finally:
            _unblock_stop_signals(blocked)

    def stop_tier(self, name: str) -> None:
        """Stop one tier (e.g. the relay, to see the page reconnect); ``start_tier`` brings it back."""
        tier = self._tier(name)
        blocked = _block_stop_signals()
        try:
            _signal_group(tier.process, signal.SIGTERM)
            self._reap(tier, time.monotonic() + self.settings.stop_timeout_s)
            self.tiers.remove(tier)
        finally:
            _unblock_stop_signals(blocked)

    def start_tier(self, name: str) -> None:
        """Start one stopped tier again on its port and wait until it is healthy."""
        if any(tier.name == name for tier in self.tiers):
            raise StackError(f"the {name} is already running")
        self._wait_until_healthy(self._spawn_tier(name))

    def _tier(self, name: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise StackError(f"no running tier is called {name!r} (running: {[t.name for t in self.tiers]})")

    def _reap(self, tier: Tier, deadline: float) -> None:
        try:
            tier.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("the %s did not stop within %.0f s: killing it", tier.name, self.settings.stop_timeout_s)
        # Workers of a gunicorn master that exited may still be in the group: kill leftovers.
        _signal_group(tier.process, signal.SIGKILL)
        try:
            tier.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.error("the %s (pid %d) could not be stopped", tier.name, tier.process.pid)
        tier.log_file.close()

    def check_alive(self) -> None:
        """Raise StackError naming the first tier whose process has exited."""
        for tier in self.tiers:
            code = tier.process.poll()
            if code is not None:
                raise StackError(f"the {tier.name} exited with code {code}; its log is {tier.log_path}\n"
                                 f"{_log_tail(tier.log_path)}")

    def supervise(self) -> list[str]:
        """Restart tiers whose process exited, each after its back-off; never blocks.

        Call it regularly (main() does, twice a second). Returns the names of the tiers started
        again by this call; their health is not waited for (the relay degrades meanwhile).
        """
        restarted = []
        now = time.monotonic()
        for tier in list(self.tiers):
            code = tier.process.poll()
            if code is None:
                if tier.restarts and now - tier.started_at > 60.0:
                    tier.restarts = 0
                continue
            if tier.restart_at is None:
                delay = min(self.settings.max_restart_backoff_s, self.settings.restart_backoff_s * 2 ** tier.restarts)
                tier.restart_at = now + delay
                logger.warning("the %s exited with code %s; starting it again in %.1f s (log: %s)",
                               tier.name, code, delay, tier.log_path)
                _signal_group(tier.process, signal.SIGKILL)   # workers left behind by a dead master
            elif now >= tier.restart_at:
                tier.log_file.close()
                self.tiers.remove(tier)
                fresh = self._spawn_tier(tier.name)
                fresh.restarts = tier.restarts + 1
                restarted.append(tier.name)
        return restarted

    def pids(self) -> list[int]:
        """Process ids of the tiers' group leaders."""
        return [tier.process.pid for tier in self.tiers]

    # ------------------------------------------------------------------ tiers

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        environment["PYTHONUNBUFFERED"] = "1"
        environment.update(self.extra_environment)
        return environment

    def _spawn_tier(self, name: str) -> Tier:
        starters = {PREDICTION: self._start_prediction_server, RELAY: self._start_relay, PAGE: self._start_page}
        if name not in starters:
            raise StackError(f"unknown tier {name!r}: expected one of {sorted(starters)}")
        return starters[name]()

    def _spawn(self, name: str, command: list[str], cwd: Path, environment: dict[str, str], health_url: str) -> Tier:
        assert self.log_dir is not None
        log_path = self.log_dir / f"{name.replace(' ', '-')}.log"
        log_file = open(log_path, "ab")
        logger.info("starting the %s: %s (log: %s)", name, " ".join(command), log_path)
        process = subprocess.Popen(
            command, cwd=str(cwd), env=environment, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        tier = Tier(name, process, health_url, log_path, log_file)
        self.tiers.append(tier)
        return tier

    def _start_prediction_server(self) -> Tier:
        environment = self._environment()
        environment["MODEL_DIR"] = str(self.model_dir)
        command = [sys.executable, "-m", "gunicorn",
                   "-b", f"{self.settings.host}:{self.settings.prediction_port}",
                   "--workers", str(self.settings.prediction_workers), *self._prediction_worker_options(),
                   "--timeout", "300", "--graceful-timeout", "5", "--no-control-socket",
                   "prediction_routine.server:create_app()"]
        return self._spawn(PREDICTION, command, REPO_ROOT, environment,
                    self.prediction_url + self.settings.prediction_health_path)

    def _prediction_worker_options(self) -> list[str]:
        """gunicorn's worker class for ``prediction_threads``: sync for one thread, gthread above."""
        threads = max(1, self.settings.prediction_threads)
        return ["-k", "sync"] if threads == 1 else ["-k", "gthread", "--threads", str(threads)]

    def _start_relay(self) -> Tier:
        environment = self._environment()
        environment["FACESWAP_PREDICTION_TARGET"] = "local"
        environment["FACESWAP_PREDICTION_API_ENDPOINT"] = self.prediction_url
        environment["RELAY_ALLOWED_ORIGINS"] = ",".join(self.page_origins())
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else []))
        command = [sys.executable, "-m", "gunicorn",
                   "-b", f"{self.settings.host}:{self.settings.relay_port}",
                   "-k", "flask_sockets.worker", "--graceful-timeout", "5", "--no-control-socket",
                   "main:app"]
        return self._spawn(RELAY, command, REPO_ROOT / "websocket_server", environment, self.relay_url + "/livez")

    def _start_page(self) -> Tier:
        environment = self._environment()
        environment.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
        environment["DJANGO_ALLOWED_HOSTS"] = ",".join(dict.fromkeys([self.settings.host, "127.0.0.1", "localhost"]))
        environment["FACESWAP_WEBSOCKET_URL"] = self.websocket_url
        # --insecure: runserver serves the static files itself although DEBUG is off.
        command = [sys.executable, "manage.py", "runserver", "--noreload", "--insecure",
                   f"{self.settings.host}:{self.settings.page_port}"]
        return self._spawn(PAGE, command, REPO_ROOT / "client_app", environment,
                    self.page_url + "healthz")

    def _wait_until_healthy(self, tier: Tier) -> None:
        deadline = time.monotonic() + self.settings.health_timeout_s
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            code = tier.process.poll()
            if code is not None:
                raise StackError(f"the {tier.name} exited with code {code} before it became healthy; "
                                 f"its log is {tier.log_path}\n{_log_tail(tier.log_path)}")
            try:
                with urllib.request.urlopen(tier.health_url, timeout=5) as response:
                    if response.status == 200:
                        logger.info("%s is healthy (%s)", tier.name, tier.health_url)
                        return
                    last_problem = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                last_problem = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError) as error:
                last_problem = str(getattr(error, "reason", error))
            time.sleep(0.25)
        raise StackError(f"the {tier.name} did not become healthy at {tier.health_url} within "
                         f"{self.settings.health_timeout_s:.0f} s ({last_problem}); its log is {tier.log_path}\n"
                         f"{_log_tail(tier.log_path)}")


def _with_free_ports(settings: StackSettings) -> StackSettings:
    """A copy of ``settings`` where every port given as 0 is replaced by a currently free one."""
    chosen = {}
    for name in ("prediction_port", "relay_port", "page_port"):
        if getattr(settings, name) == 0:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((settings.host, 0))
                chosen[name] = probe.getsockname()[1]
    return dataclasses.replace(settings, **chosen)


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        os.killpg(process.pid, signal_number)
    except (ProcessLookupError, PermissionError):
        pass


def _block_stop_signals():
    """Hold Ctrl-C/SIGTERM back while stopping (delivered afterwards), so shutdown is never cut short."""
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, ValueError, OSError):
        return None


def _unblock_stop_signals(previous) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


class StopRequested(Exception):
    """SIGTERM arrived: leave the wait loop and stop the stack."""


def _raise_stop_requested(signal_number, frame) -> None:
    raise StopRequested()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the face-swap service locally: prediction server, relay and webcam page.")
    add_dataclass_arguments(parser, StackSettings)
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = settings_from(StackSettings, arguments, env_prefix=ENV_PREFIX)
    except FaceswapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_stop_requested)
    # Ctrl-C stops the stack even when it was started as a background job (`cmd &` in a script, a
    # supervisor's `timeout -s INT`): such jobs inherit SIGINT ignored, and Python keeps it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = LocalStack(settings)
    try:
        print("Starting the face-swap stack (prediction server, relay, webcam page)...", flush=True)
        stack.start()
        if not settings.start_prediction_server:
            print(f"NOTE: no prediction server started; the relay calls {stack.prediction_url}")
        elif stack.uses_stand_in_model:
            print("*" * 78)
            print(f"NOTE: models/default does not exist yet. Serving a STAND-IN TEST MODEL from {stack.model_dir}:")
            print("it is tiny and barely trained, so the swapped face is a blur, not a real identity.")
            print(f"(delete {stack.model_dir} to rebuild it; pass --model-dir to serve another model)")
            print("*" * 78)
        if stack.model_dir is not None:
            print(f"model:      {stack.model_dir}")
        print(f"prediction: {stack.prediction_url}")
        print(f"relay:      {stack.websocket_url}")
        print(f"logs:       {stack.log_dir}")
        print(f"Face-swap service is up: open {stack.page_url}  (Ctrl-C stops it)", flush=True)
        while True:
            for name in stack.supervise():
                print(f"restarted the {name}", flush=True)
            time.sleep(0.5)
    except (KeyboardInterrupt, StopRequested):
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping the face-swap stack...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
        return 0
    except FaceswapError as error:
        stack.stop()
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
