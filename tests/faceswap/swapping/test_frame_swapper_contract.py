"""FrameSwapper's own defaults and refusals (faceswap/swapping/frame_swapper.py): without a detector
it makes its own MediaPipe one, and each bad setting is refused at construction with a sentence
naming it. The bundled model (whatever its size) stands in for any model."""

from __future__ import annotations

import pytest

from faceswap.errors import InputError
from faceswap.images import read_image
from faceswap.model.runtime import load_swap_model
from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def bundled_model():
    return load_swap_model(REPO_ROOT / "models" / "default")


def test_without_a_detector_it_finds_faces_with_its_own(bundled_model, still_path):
    swapper = FrameSwapper(bundled_model, settings=SwapSettings(mark=False))
    try:
        result = swapper.swap_frame(read_image(still_path("s0")), "a2b")
        assert result.faces == 1
    finally:
        swapper.detector.close()


@pytest.mark.parametrize("settings,message", [
    (dict(paste_interpolation="nearest"), "unknown paste interpolation 'nearest': expected one of linear, cubic, lanczos"),
    (dict(color="sepia"), "unknown colour mode 'sepia': expected one of "),
    (dict(blend="smudge"), "unknown blend mode 'smudge': expected one of feather, poisson"),
    (dict(mask_landmarks="future"), "mask_landmarks must be 'current' or 'smoothed', not 'future'"),
])
def test_a_bad_setting_is_refused_by_name(bundled_model, settings, message):
    with pytest.raises(InputError) as raised:
        FrameSwapper(bundled_model, detector=object(), settings=SwapSettings(**settings))
    assert str(raised.value).startswith(message), str(raised.value)
