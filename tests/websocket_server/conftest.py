"""Fixtures for the relay tests: the relay under real gunicorn with the Flask-Sockets worker, a
real prediction server behind it (or the echo routine where a test must make the routine slow or
kill it), real WebSocket clients (websocket-client) and real frames from d9.mp4.
"""

from __future__ import annotations

import json
import urllib.request

import cv2
import pytest
import websocket

from faceswap.images import encode_jpeg
from tests.conftest import free_port
from tests.websocket_server.server_processes import GUNICORN, RELAY_FOLDER, REPO_ROOT, ServerProcess, relay_command
from websocket_server.frame_protocol import pack_message, unpack_message

ECHO_FOLDER = REPO_ROOT / "tests" / "websocket_server"


def read_clip_frames(path, count: int, size: tuple[int, int]) -> list[bytes]:
    """The first ``count`` frames of a clip, resized to ``size`` (w, h), as JPEG bytes (BGR source)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(encode_jpeg(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), quality=80))
    finally:
        capture.release()
    assert len(frames) == count, f"{path} has fewer than {count} frames"
    return frames


@pytest.fixture(scope="session")
def d9_frames(clip_path) -> list[bytes]:
    """12 real webcam-like frames (d9.mp4, 320x240 JPEG)."""
    return read_clip_frames(clip_path("d9"), 12, (320, 240))


class RelayConnection:
    """A real WebSocket client speaking the binary frame protocol."""

    def __init__(self, url: str, timeout: float = 30.0, **options):
        self.socket = websocket.create_connection(url, timeout=timeout, **options)

    def send_frame(self, seq, image: bytes, direction="a2b", **fields) -> None:
        self.socket.send_binary(pack_message({"seq": seq, "direction": direction, **fields}, image))

    def send_raw(self, data, binary: bool = True) -> None:
        if binary:
            self.socket.send_binary(data)
        else:
            self.socket.send(data)

    def receive(self) -> tuple[dict, bytes]:
        """The next result (header, payload); fails the test on a text message."""
        opcode, data = self.socket.recv_data()
        assert opcode == websocket.ABNF.OPCODE_BINARY, f"expected a binary message, got opcode {opcode}"
        return unpack_message(data)

    def close(self) -> None:
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def get_json(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, json.loads(response.read())


class ProcessStarter:
    """Starts ServerProcess objects into one log folder; ``stop_all()`` stops every one of them."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.started: list[ServerProcess] = []

    def _start(self, process: ServerProcess) -> ServerProcess:
        self.started.append(process)
        return process.start()

    def echo_routine(self, delay_ms: float = 0, port: int | None = None) -> ServerProcess:
        """The echo prediction routine (tests/websocket_server/echo_prediction_routine.py)."""
        port = port or free_port()
        command = GUNICORN + ["-b", f"127.0.0.1:{port}", "-k", "gthread", "--threads", "8",
                              "--no-control-socket", "echo_prediction_routine:app"]
        return self._start(ServerProcess("echo routine", command, ECHO_FOLDER, {"ECHO_DELAY_MS": str(delay_ms)},
                                         port, "/healthz", self.log_dir / f"echo-{port}.log"))

    def real_routine(self, model_dir) -> ServerProcess:
        """The local prediction server (prediction_routine/server.py) serving ``model_dir``."""
        port = free_port()
        command = GUNICORN + ["-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "4", "--no-control-socket",
                              "prediction_routine.server:create_app()"]
        return self._start(ServerProcess("prediction server", command, REPO_ROOT, {"MODEL_DIR": str(model_dir)},
                                         port, "/healthz", self.log_dir / f"prediction-{port}.log",
                                         start_timeout_s=300))

    def relay(self, routine_url: str, extra_arguments: tuple[str, ...] = (), **environment: str) -> ServerProcess:
        """The relay, started as documented (plus ``extra_arguments`` for gunicorn), on a free port;
        keyword arguments become environment variables (RELAY_*, FACESWAP_PREDICTION_*)."""
        port = free_port()
        env = {"FACESWAP_PREDICTION_TARGET": "local", "FACESWAP_PREDICTION_API_ENDPOINT": routine_url,
               "FACESWAP_PREDICTION_RETRIES": "0", "FACESWAP_PREDICTION_TIMEOUT_S": "10",
               **{key: str(value) for key, value in environment.items()}}
        return self._start(ServerProcess("relay", relay_command(port) + list(extra_arguments), RELAY_FOLDER, env, port, "/healthz",
                                         self.log_dir / f"relay-{port}.log"))

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()
        self.started = []


@pytest.fixture
def servers(tmp_path):
    """Per-test servers: ``servers.echo_routine()``, ``servers.relay(url, RELAY_...=...)``; all stopped after."""
    starter = ProcessStarter(tmp_path)
    yield starter
    starter.stop_all()


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory):
    """Like ``servers``, shared by the tests of one module."""
    starter = ProcessStarter(tmp_path_factory.mktemp("servers"))
    yield starter
    starter.stop_all()


@pytest.fixture(scope="module")
def real_routine(module_servers, test_model_dir) -> ServerProcess:
    """The real local prediction server with the real tiny test model."""
    return module_servers.real_routine(test_model_dir)


@pytest.fixture(scope="module")
def relay_to_real_routine(module_servers, real_routine) -> ServerProcess:
    """A relay (default settings) in front of the real prediction server."""
    return module_servers.relay(real_routine.url)


def stream_url(relay: ServerProcess) -> str:
    return f"ws://127.0.0.1:{relay.port}/stream"
