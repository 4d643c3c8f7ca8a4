"""Fixtures for the prediction-routine tests: the real routine on the real tiny test model
(``test_model_dir`` from tests/conftest.py), real 640x480 frames from d9.mp4, stills, and the
local prediction server as a real gunicorn process on a free loopback port.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.conversion import video_io
from faceswap.images import encode_jpeg
from tests.conftest import free_port
from tests.websocket_server.server_processes import GUNICORN, REPO_ROOT, ServerProcess
from websocket_server.prediction_client import make_instance, prediction_image


def read_frames(path, count: int, step: int = 1) -> list[np.ndarray]:
    """``count`` frames of a clip (every ``step``-th), resized to 640x480 BGR uint8."""
    frames = []
    for index, frame in enumerate(video_io.read_frames(path)):
        if index % step == 0:
            frames.append(cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA))
        if len(frames) == count:
            break
    assert len(frames) == count, f"{path}: fewer than {count} frames"
    return frames


def instance(image_bytes: bytes, direction: str | None = "a2b", **fields) -> dict:
    """One predict instance (docs/protocols.md) around JPEG/PNG bytes; ``fields`` are set as given
    (even invalid values, for the bad-input tests)."""
    built = make_instance(image_bytes, direction)
    built.update(fields)
    return built


def image_of(prediction: dict) -> np.ndarray:
    """The prediction's image decoded to BGR uint8."""
    data = prediction_image(prediction)
    assert data is not None, f"the prediction has no image: {prediction.get('error')}"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the prediction's image is not a decodable JPEG/PNG"
    return image


@pytest.fixture(scope="session")
def d9_640x480(clip_path) -> list[np.ndarray]:
    """8 real webcam-like frames of d9.mp4 (every 10th), 640x480 BGR uint8."""
    return read_frames(clip_path("d9"), 8, step=10)


@pytest.fixture(scope="session")
def d9_jpegs(d9_640x480) -> list[bytes]:
    return [encode_jpeg(frame, quality=90) for frame in d9_640x480]


@pytest.fixture(scope="session")
def routine(test_model_dir):
    """The real ModelPrediction on the real tiny test model (TFLite int8, the default backend)."""
    from prediction_routine.predictor import ModelPrediction

    return ModelPrediction.from_path(str(test_model_dir))


def prediction_server_command(port: int) -> list[str]:
    """The documented command line of the local prediction server, on ``port``."""
    return GUNICORN + ["-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "4", "--no-control-socket",
                       "prediction_routine.server:create_app()"]


@pytest.fixture(scope="module")
def prediction_server(test_model_dir, tmp_path_factory):
    """The local prediction server under gunicorn serving the test model; stopped after the module.

    Started with Vertex custom-container variables so their routes are exercised too.
    """
    port = free_port()
    environment = {"MODEL_DIR": str(test_model_dir),
                   "AIP_PREDICT_ROUTE": "/v1/endpoints/321/deployedModels/654:predict",
                   "AIP_HEALTH_ROUTE": "/v1/endpoints/321/deployedModels/654"}
    server = ServerProcess("prediction server", prediction_server_command(port), REPO_ROOT, environment, port,
                           "/v1/endpoints/321/deployedModels/654",
                           tmp_path_factory.mktemp("prediction-server") / "server.log", start_timeout_s=300)
    server.start()
    yield server
    server.stop()
