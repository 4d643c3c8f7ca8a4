"""Motion blur of the swapped face (faceswap/swapping/motion_blur.py): the kernel is the smear of
uniform linear motion; a face track that moves is smeared along its motion, turned into the crop
by the alignment; a still face, a first frame, a jump and a still picture are never blurred; and
through the frame swapper, on d12's fast head turn, the swapped face changes less from frame to
frame and keeps the camera's smear."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from faceswap.conversion.video_io import read_frames
from faceswap.faces.smoothing import LandmarkSmoother
from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings
from faceswap.swapping.motion_blur import (MAX_BLUR_SHARE, MAX_GAP_S, blur_for_motion, crop_centre_in_frame,
                                           motion_kernel)

SIZE = 96


def _spread(kernel: np.ndarray, angle: float) -> tuple[float, float]:
    """Standard deviation of the kernel's mass along ``angle`` and across it, px."""
    ys, xs = np.indices(kernel.shape, dtype=np.float64) - kernel.shape[0] // 2
    along = xs * math.cos(angle) + ys * math.sin(angle)
    across = -xs * math.sin(angle) + ys * math.cos(angle)
    weights = kernel.astype(np.float64)
    return (float(np.sqrt((weights * along ** 2).sum())), float(np.sqrt((weights * across ** 2).sum())))


@pytest.mark.parametrize("length,angle", [(5.0, 0.0), (8.5, math.pi / 4), (3.2, 1.2), (12.0, -math.pi / 2)])
def test_the_kernel_is_a_centred_line_of_the_given_length_and_direction(length, angle):
    kernel = motion_kernel(length, angle)
    assert kernel.dtype == np.float32 and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5) and kernel.min() >= 0.0
    ys, xs = np.indices(kernel.shape) - kernel.shape[0] // 2
    assert (kernel * xs).sum() == pytest.approx(0.0, abs=1e-4) and (kernel * ys).sum() == pytest.approx(0.0, abs=1e-4)
    along, across = _spread(kernel, angle)
    # a uniform segment of length L has a standard deviation of L / sqrt(12); bilinear splats add ~0.3 px
    assert along == pytest.approx(length / math.sqrt(12.0), abs=0.35)
    assert across < 0.45


def test_a_smear_under_a_pixel_is_the_identity():
    for length in (0.0, 0.99, float("nan")):
        assert np.array_equal(motion_kernel(length, 0.3), np.ones((1, 1), np.float32))


def _matrix(scale: float = 0.5, rotation: float = 0.0, shift=(0.0, 0.0)) -> np.ndarray:
    """frame -> crop: rotate by ``rotation``, scale, then translate."""
    c, s = math.cos(rotation) * scale, math.sin(rotation) * scale
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]], np.float64)


def _dot() -> np.ndarray:
    face = np.zeros((SIZE, SIZE, 3), np.float32)
    face[SIZE // 2, SIZE // 2] = 1.0
    return face


def _moved(matrix: np.ndarray, frame_dx: float, frame_dy: float) -> np.ndarray:
    """The same alignment for a face that moved by (dx, dy) frame px: the crop follows it."""
    moved = matrix.copy()
    moved[:, 2] -= matrix[:, :2] @ np.array([frame_dx, frame_dy])
    return moved


def test_a_face_moving_sideways_is_smeared_sideways_by_speed_times_exposure():
    """20 frame px in 1/30 s at half scale: 600 px/s x 1/60 s = 10 frame px = 5 crop px, along x."""
    state: dict = {}
    first = _matrix(0.5, shift=(10.0, 5.0))
    assert blur_for_motion(state, _dot(), first, 0.0, 1 / 60) is not None
    smeared = blur_for_motion(state, _dot(), _moved(first, 20.0, 0.0), 1 / 30, 1 / 60)[..., 0]
    ys, xs = np.nonzero(smeared > 1e-4)
    assert set(ys) == {SIZE // 2}                                              # not a pixel up or down
    assert 4 <= xs.max() - xs.min() + 1 <= 7
    along, _ = _spread(smeared[SIZE // 2 - 8: SIZE // 2 + 9, SIZE // 2 - 8: SIZE // 2 + 9], 0.0)
    assert along == pytest.approx(5.0 / math.sqrt(12.0), abs=0.35)


def test_the_smear_is_turned_into_the_crop_by_the_alignment():
    """A head rolled 90 degrees in the frame: its sideways motion runs up and down the crop."""
    state: dict = {}
    first = _matrix(0.5, rotation=math.pi / 2, shift=(80.0, 10.0))
    blur_for_motion(state, _dot(), first, 0.0, 1 / 60)
    smeared = blur_for_motion(state, _dot(), _moved(first, 20.0, 0.0), 1 / 30, 1 / 60)[..., 0]
    ys, xs = np.nonzero(smeared > 1e-4)
    assert set(xs) == {SIZE // 2} and 4 <= ys.max() - ys.min() + 1 <= 7


def test_a_diagonal_motion_under_a_rolled_head_is_smeared_along_the_motion_as_the_crop_sees_it():
    """Motion (12, 5) frame px per 1/30 s under a 30-degree roll at half scale: in the crop the
    smear runs along R(30 deg) (12, 5), not along the frame's own direction nor its mirror image."""
    roll = math.radians(30.0)
    state: dict = {}
    first = _matrix(0.5, rotation=roll, shift=(30.0, -10.0))
    blur_for_motion(state, _dot(), first, 0.0, 1 / 30)
    smeared = blur_for_motion(state, _dot(), _moved(first, 12.0, 5.0), 1 / 30, 1 / 30)[..., 0]
    ys, xs = np.indices(smeared.shape, dtype=np.float64)
    weights = smeared / smeared.sum()
    mx, my = (weights * xs).sum(), (weights * ys).sum()
    cxx = (weights * (xs - mx) ** 2).sum()
    cyy = (weights * (ys - my) ** 2).sum()
    cxy = (weights * (xs - mx) * (ys - my)).sum()
    principal = 0.5 * math.atan2(2 * cxy, cxx - cyy)                 # the smear's axis in the crop
    expected = math.atan2(5.0, 12.0) + roll
    difference = (principal - expected + math.pi / 2) % math.pi - math.pi / 2
    assert abs(math.degrees(difference)) < 4.0
    length = math.sqrt(12 * (cxx + cyy))                               # a segment's variance is L^2 / 12
    assert length == pytest.approx(0.5 * math.hypot(12.0, 5.0), abs=1.0)


def test_the_crop_centre_maps_back_into_the_frame():
    matrix = _matrix(0.4, rotation=0.3, shift=(12.0, -7.0))
    centre = crop_centre_in_frame(matrix, SIZE)
    np.testing.assert_allclose(matrix[:, :2] @ centre + matrix[:, 2], [SIZE / 2, SIZE / 2], atol=1e-9)


def test_nothing_is_smeared_without_a_motion_to_measure():
    face = np.random.default_rng(0).random((SIZE, SIZE, 3), dtype=np.float32)
    matrix = _matrix()
    cases = {
        "the first frame of a track": ({}, matrix, 0.1),
        "a still face": ({"motion": (crop_centre_in_frame(matrix, SIZE), 0.0)}, matrix, 1 / 30),
        "landmark jitter (0.8 frame px: a smear of 0.2 crop px)": (
            {"motion": (crop_centre_in_frame(matrix, SIZE), 0.0)}, _moved(matrix, 0.8, 0.0), 1 / 30),
        "a pause longer than MAX_GAP_S": ({"motion": (crop_centre_in_frame(matrix, SIZE), 0.0)},
                                         _moved(matrix, 40.0, 0.0), MAX_GAP_S + 0.01),
        "time going backwards": ({"motion": (crop_centre_in_frame(matrix, SIZE), 1.0)}, _moved(matrix, 40.0, 0.0), 0.9),
    }
    for what, (state, this, when) in cases.items():
        assert blur_for_motion(state, face, this, when, 1 / 60) is face, what
        np.testing.assert_allclose(state["motion"][0], crop_centre_in_frame(this, SIZE))   # remembered for the next
        assert state["motion"][1] == when


def test_exposure_zero_is_off_and_a_bad_exposure_is_refused():
    face = _dot()
    state = {"motion": (crop_centre_in_frame(_matrix(), SIZE), 0.0)}
    assert blur_for_motion(state, face, _moved(_matrix(), 30.0, 0.0), 1 / 30, 0.0) is face
    for exposure in (-0.01, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="motion blur exposure must be finite and >= 0 seconds"):
            blur_for_motion({}, face, _matrix(), 0.0, exposure)


def test_a_jump_is_capped_at_a_share_of_the_crop():
    state = {"motion": (crop_centre_in_frame(_matrix(1.0), SIZE), 0.0)}
    smeared = blur_for_motion(state, _dot(), _moved(_matrix(1.0), 400.0, 0.0), 1 / 30, 1 / 30)[..., 0]
    xs = np.nonzero(smeared[SIZE // 2] > 1e-4)[0]
    assert xs.max() - xs.min() + 1 <= MAX_BLUR_SHARE * SIZE + 3          # + the two bilinear end splats


@pytest.fixture(scope="module")
def d12_turn(clip_path):
    """Frames 40-49 of d12: the user turns his head fast (his face smeared in the frames)."""
    return [frame for _, frame in zip(range(50), read_frames(clip_path("d12")))][40:]


def _face_box(detector, frame) -> tuple[slice, slice]:
    points = detector.detect(frame)[0].landmarks
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int)
    return slice(y0, y1), slice(x0, x1)


def test_through_the_frame_swapper_a_fast_turn_is_smeared_and_changes_less(make_swapper_with_model, face_detector,
                                                                           d12_turn):
    def run(exposure):
        swapper = make_swapper_with_model(motion_blur=exposure, mark=False)
        smoother = LandmarkSmoother()
        return [swapper.swap_frame(frame, "a2b", smoother, timestamp_s=index / 30.0).frame
                for index, frame in enumerate(d12_turn)]

    sharp, smeared = run(0.0), run(1 / 30)
    assert np.array_equal(sharp[0], smeared[0])                      # the first frame has no motion yet
    boxes = [_face_box(face_detector, frame) for frame in d12_turn]
    detail = lambda image, box: float(cv2.Laplacian(cv2.cvtColor(image[box], cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())  # noqa: E731
    softer = [detail(b, box) < detail(a, box) for a, b, box in zip(sharp[1:], smeared[1:], boxes[1:])]
    assert sum(softer) >= 7, softer                                  # nearly every frame of the turn
    change = lambda frames: sum(float(np.abs(b[box].astype(np.int16) - a[box].astype(np.int16)).mean())  # noqa: E731
                                for a, b, box in zip(frames, frames[1:], boxes[1:]))
    assert change(smeared) < change(sharp)


def test_a_still_picture_is_never_smeared(make_swapper_with_model, d12_turn):
    assert np.array_equal(make_swapper_with_model(motion_blur=0.1, mark=False).swap_frame(d12_turn[5], "a2b").frame,
                          make_swapper_with_model(motion_blur=0.0, mark=False).swap_frame(d12_turn[5], "a2b").frame)


@pytest.fixture(scope="module")
def make_swapper_with_model(test_model_dir, face_detector):
    from faceswap.model.runtime import load_swap_model

    model = load_swap_model(test_model_dir)
    return lambda **settings: FrameSwapper(model, face_detector, SwapSettings(**settings))
