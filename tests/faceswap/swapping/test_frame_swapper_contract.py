"""FrameSwapper's own defaults and refusals (faceswap/swapping/frame_swapper.py): without a detector
it makes its own MediaPipe one, and each bad setting is refused at construction with a sentence
naming it. The bundled model (whatever its size) stands in for any model."""

from __future__ import annotations

import time

import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.faces.detection import Face, FaceDetector
from faceswap.faces.smoothing import LandmarkSmoother
from faceswap.images import read_image
from faceswap.model.runtime import load_swap_model
from faceswap.swapping.frame_swapper import STAGES, FrameSwapper, SwapSettings
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
    (dict(local_tone=-0.1), "local_tone must be in [0, 1] (0 = off), not -0.1"),
    (dict(local_tone=float("inf")), "local_tone must be in [0, 1] (0 = off), not inf"),
    (dict(local_tone_highlights=float("nan")), "local_tone_highlights must be in [0, 1] (0 = off), not nan"),
    (dict(local_tone_highlights=-1.0), "local_tone_highlights must be in [0, 1] (0 = off), not -1.0"),
    (dict(local_tone_lightness=1.5), "local_tone_lightness must be in [0, 1], not 1.5"),
    (dict(landmark_warp=1.5), "landmark_warp must be in [0, 1] (0 = off), not 1.5"),
    (dict(landmark_warp=float("nan")), "landmark_warp must be in [0, 1] (0 = off), not nan"),
    (dict(landmark_warp_radius=0.0), "landmark_warp_radius must be in (0, 1], not 0.0"),
    (dict(landmark_warp_radius=float("inf")), "landmark_warp_radius must be in (0, 1], not inf"),
    (dict(landmark_warp_smoothing=0.0), "landmark_warp_smoothing must be in (0, 1] (1 = not smoothed), not 0.0"),
    (dict(landmark_warp_smoothing=float("nan")), "landmark_warp_smoothing must be in (0, 1] (1 = not smoothed), not nan"),
    (dict(landmark_warp_features=1.5), "landmark_warp_features must be in [0, 1] (0 = the head pose only, 1 = every "
                                       "feature on the user's), not 1.5"),
    (dict(landmark_warp_features=float("nan")), "landmark_warp_features must be in [0, 1] (0 = the head pose only, "
                                                "1 = every feature on the user's), not nan"),
    (dict(landmark_warp_every=0), "landmark_warp_every must be a whole number >= 1, not 0"),
    (dict(landmark_warp_every=1.5), "landmark_warp_every must be a whole number >= 1, not 1.5"),
    (dict(landmark_warp_every=True), "landmark_warp_every must be a whole number >= 1, not True"),
    (dict(motion_blur=-0.01), "motion_blur must be in [0, 0.2] seconds of exposure (0 = off), not -0.01"),
    (dict(motion_blur=float("nan")), "motion_blur must be in [0, 0.2] seconds of exposure (0 = off), not nan"),
    (dict(motion_blur=1.0), "motion_blur must be in [0, 0.2] seconds of exposure (0 = off), not 1.0"),
])
def test_a_bad_setting_is_refused_by_name(bundled_model, settings, message):
    with pytest.raises(InputError) as raised:
        FrameSwapper(bundled_model, detector=object(), settings=SwapSettings(**settings))
    assert str(raised.value).startswith(message), str(raised.value)


class DegenerateFace:
    """A detector that reports one face whose 68 landmarks all lie on one point (no alignment), or
    (``value`` NaN) are not numbers at all."""

    def __init__(self, value: float = 50.0):
        self.value = value

    def detect(self, frame):
        point = np.full((68, 2), self.value, np.float32)
        return [Face(np.array([40, 40, 60, 60], np.float32), 0.9, point, np.zeros((468, 2), np.float32))]


def assert_unchanged_result(result, frame) -> None:
    assert result.frame is frame and result.faces == 0
    assert set(result.timings_ms) == set(STAGES)
    assert result.timings_ms["total"] >= result.timings_ms["detect"] >= 0.0
    assert isinstance(result.cpu_ms, dict)


def test_frames_it_cannot_swap_come_back_as_they_are_with_their_timings(bundled_model, still_path):
    frame = read_image(still_path("s0"))
    for value in (50.0, float("nan")):
        degenerate = FrameSwapper(bundled_model, detector=DegenerateFace(value)).swap_frame(frame, "a2b")
        assert_unchanged_result(degenerate, frame)
        assert degenerate.timings_ms["model"] == degenerate.timings_ms["blend"] == 0.0
    with FaceDetector() as detector:
        none_allowed = FrameSwapper(bundled_model, detector, SwapSettings(max_faces=0)).swap_frame(frame, "b2a")
        assert_unchanged_result(none_allowed, frame)
        assert none_allowed.timings_ms["align"] == none_allowed.timings_ms["model"] == 0.0
        with pytest.raises(InputError) as raised:
            FrameSwapper(bundled_model, detector).swap_frame(frame[..., 0], "a2b")
        assert str(raised.value) == "the frame must be a uint8 (H, W, 3) BGR image"


def test_a_streams_timestamps_not_the_wall_clock_drive_its_smoothing(bundled_model, clip_frames):
    frames = clip_frames("d9", count=3, step=8)
    outputs = []
    with FaceDetector() as detector:
        swapper = FrameSwapper(bundled_model, detector, SwapSettings(mark=False))
        for pause in (0.0, 0.3):
            smoother = LandmarkSmoother()
            run = []
            for index, frame in enumerate(frames):
                run.append(swapper.swap_frame(frame, "a2b", smoother=smoother, timestamp_s=index / 25).frame)
                time.sleep(pause)
            outputs.append(run)
    for first, second in zip(*outputs):
        np.testing.assert_array_equal(first, second)
