"""A bug costs one instance, never the batch, and the routine keeps serving (prediction_routine/
predictor.py, docs/protocols.md): the real routine around the real model, with a fault put into
one swap direction to stand for a bug no input can trigger on purpose."""

from __future__ import annotations

import json

import pytest

from faceswap.faces.detection import FaceDetector
from faceswap.model.runtime import load_swap_model
from faceswap.swapping.frame_swapper import FrameSwapper
from prediction_routine.predictor import ModelPrediction
from prediction_routine.server import create_app, server_settings
from tests.prediction_routine.conftest import image_of, instance
from websocket_server.prediction_client import prediction_image


class ModelWithABug:
    """The real SwapModel, except that ``b2a`` raises as a bug would (duck-typed for FrameSwapper)."""

    def __init__(self, model):
        self.model = model
        self.input_size = model.input_size
        self.layout = model.layout

    def swap(self, faces, direction):
        if direction == "b2a":
            raise RuntimeError("simulated bug in the b2a decoder")
        return self.model.swap(faces, direction)


@pytest.fixture(scope="module")
def buggy_routine(test_model_dir):
    detector = FaceDetector()
    yield ModelPrediction(FrameSwapper(ModelWithABug(load_swap_model(test_model_dir)), detector))
    detector.close()


def test_a_bug_costs_its_instance_only(buggy_routine, d9_jpegs):
    results = buggy_routine.predict([instance(d9_jpegs[0], "a2b"), instance(d9_jpegs[1], "b2a"),
                                     instance(d9_jpegs[2], "a2b", stream_id="s")])
    assert [result["error"] is None for result in results] == [True, False, True]
    assert results[1]["error"] == "the swap failed: RuntimeError: simulated bug in the b2a decoder"
    assert prediction_image(results[1]) == d9_jpegs[1]   # the frame comes back as it was sent
    assert results[1]["faces"] == 0
    for result in (results[0], results[2]):
        assert result["faces"] == 1 and image_of(result).shape == (480, 640, 3)
    # The routine goes on serving, the same stream included.
    [after] = buggy_routine.predict([instance(d9_jpegs[3], "a2b", stream_id="s")])
    assert after["error"] is None and after["faces"] == 1


def test_the_server_answers_the_batch_and_keeps_serving(buggy_routine, test_model_dir, d9_jpegs):
    app = create_app(str(test_model_dir), server_settings(environ={}, load_in_background=False))
    app.extensions["faceswap_routine"].routine = buggy_routine
    client = app.test_client()
    body = {"instances": [instance(d9_jpegs[0], "b2a"), instance(d9_jpegs[1], "a2b")]}
    answer = client.post("/predict", data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 200
    first, second = answer.get_json()["predictions"]
    assert first["error"].startswith("the swap failed: RuntimeError") and second["error"] is None
    assert client.get("/health").status_code == 200


def test_a_bug_outside_the_swap_is_a_500_and_the_server_keeps_serving(test_model_dir, d9_jpegs):
    """What escapes ``predict`` (a bug outside the per-instance guard) is answered 500 INTERNAL in
    Google's error shape; the next request is served."""
    app = create_app(str(test_model_dir), server_settings(environ={}, load_in_background=False))
    state = app.extensions["faceswap_routine"]
    working = state.routine

    class Exploding:
        settings = working.settings

        def predict(self, instances):
            raise KeyError("simulated bug")

    client = app.test_client()
    body = json.dumps({"instances": [instance(d9_jpegs[0])]})
    state.routine = Exploding()
    answer = client.post("/predict", data=body, content_type="application/json")
    assert answer.status_code == 500
    assert answer.get_json()["error"]["status"] == "INTERNAL"
    assert "KeyError" in answer.get_json()["error"]["message"]
    state.routine = working
    answer = client.post("/predict", data=body, content_type="application/json")
    assert answer.status_code == 200 and answer.get_json()["predictions"][0]["faces"] == 1
