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


@pytest.fixture
def server_processes(tmp_path):
    """Starts ServerProcess objects and stops every one of them after the test."""
    started: list[ServerProcess] = []

    def start(process: ServerProcess) -> ServerProcess:
        started.append(process)
        return process.start()

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def start_echo_routine(server_processes, tmp_path):
    """start_echo_routine(delay_ms=0, port=None) -> the echo prediction routine under gunicorn."""
    def start(delay_ms: float = 0, port: int | None = None) -> ServerProcess:
        port = port or free_port()
        command = GUNICORN + ["-b", f"127.0.0.1:{port}", "-k", "gthread", "--threads", "8",
                              "--no-control-socket", "echo_prediction_routine:app"]
        return server_processes(ServerProcess("echo routine", command, ECHO_FOLDER,
                                              {"ECHO_DELAY_MS": str(delay_ms)}, port, "/healthz",
                                              tmp_path / f"echo-{port}.log"))
    return start


@pytest.fixture
def start_relay(server_processes, tmp_path):
    """start_relay(routine_url, **environment) -> the relay, started as documented, on a free port.

    Extra keyword arguments become environment variables (RELAY_*, FACESWAP_PREDICTION_*).
    """
    def start(routine_url: str, **environment: str) -> ServerProcess:
        port = free_port()
        env = {"FACESWAP_PREDICTION_TARGET": "local", "FACESWAP_PREDICTION_API_ENDPOINT": routine_url,
               "FACESWAP_PREDICTION_RETRIES": "0", "FACESWAP_PREDICTION_TIMEOUT_S": "10",
               **{key: str(value) for key, value in environment.items()}}
        return server_processes(ServerProcess("relay", relay_command(port), RELAY_FOLDER, env, port, "/healthz",
                                              tmp_path / f"relay-{port}.log"))
    return start


def stream_url(relay: ServerProcess) -> str:
    return f"ws://127.0.0.1:{relay.port}/stream"
