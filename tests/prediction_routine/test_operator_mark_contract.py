"""The visible "AI-generated" mark is on "unless the operator turns it off" (docs/privacy.md,
docs/protocols.md): FACESWAP_SWAP_MARK=false removes it from every merged frame;
FACESWAP_SWAP_FORCE_MARK=false lets a request's ``options.mark: false`` remove it from its frame.
The real routine, configured through the environment as the operator does."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.images import decode_image
from faceswap.swapping.watermark import draw_mark
from prediction_routine.predictor import ModelPrediction
from tests.prediction_routine.conftest import image_of, instance


def mark_pixels(shape) -> np.ndarray:
    """bool (H, W): the pixels the mark covers on a frame of ``shape``."""
    grey = np.full(shape, 128, np.uint8)
    return np.any(draw_mark(grey.copy()) != grey, axis=2)


def mark_change(result: dict, jpeg: bytes) -> float:
    """Mean change over the mark's pixels between the sent frame and the merged one."""
    assert result["error"] is None and result["faces"] == 1, result.get("error")
    source = decode_image(jpeg).astype(np.int16)
    return float(np.abs(image_of(result).astype(np.int16) - source)[mark_pixels(source.shape)].mean())


@pytest.fixture(scope="module")
def operator_routines(test_model_dir):
    """Routines started the three ways an operator can: default, mark off, request may choose."""
    routines = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, environment in (("default", {}), ("mark off", {"FACESWAP_SWAP_MARK": "false"}),
                                  ("request may choose", {"FACESWAP_SWAP_FORCE_MARK": "false"})):
            for key in ("FACESWAP_SWAP_MARK", "FACESWAP_SWAP_FORCE_MARK"):
                patch.delenv(key, raising=False)
            for key, value in environment.items():
                patch.setenv(key, value)
            routines[name] = ModelPrediction.from_path(str(test_model_dir))
    return routines


def test_the_operator_turns_the_mark_off_for_every_frame(operator_routines, d9_jpegs):
    jpeg = d9_jpegs[2]
    [marked] = operator_routines["default"].predict([instance(jpeg)])
    [unmarked, asked] = operator_routines["mark off"].predict([instance(jpeg), instance(jpeg, options={"mark": False})])
    assert mark_change(marked, jpeg) > 8.0
    assert mark_change(unmarked, jpeg) < 3.0      # JPEG re-encoding noise only
    assert mark_change(asked, jpeg) < 3.0
    # A request can still ask for the mark the operator left off.
    [requested] = operator_routines["mark off"].predict([instance(jpeg, options={"mark": True})])
    assert mark_change(requested, jpeg) > 8.0


def test_a_request_turns_the_mark_off_only_where_the_operator_allows_it(operator_routines, d9_jpegs):
    jpeg = d9_jpegs[3]
    [refused] = operator_routines["default"].predict([instance(jpeg, options={"mark": False})])
    assert mark_change(refused, jpeg) > 8.0
    allowing = operator_routines["request may choose"]
    [kept, removed] = allowing.predict([instance(jpeg), instance(jpeg, options={"mark": False})])
    assert mark_change(kept, jpeg) > 8.0          # the default stays on
    assert mark_change(removed, jpeg) < 3.0
