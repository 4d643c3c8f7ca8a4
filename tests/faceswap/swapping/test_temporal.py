"""The temporal filter of the swapped face (swapping/temporal.py) on real aligned faces: it calms
shimmer where the user's face is still, takes the new swap unchanged where the user's face changed
(no ghost), follows the face through the alignment, and reaches the frame swapper through the stream's landmark smoother only (never on stills)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.conversion.video_io import read_frames
from faceswap.errors import InputError
from faceswap.faces.smoothing import LandmarkSmoother
from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings
from faceswap.swapping.temporal import filter_face


def _as_float(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32) / np.float32(255.0)


def _shimmer(image: np.ndarray, seed: int, amount: float = 0.04) -> np.ndarray:
    """A model's frame-to-frame shimmer: independent noise on the same face."""
    noise = np.random.default_rng(seed).normal(0.0, amount, image.shape).astype(np.float32)
    return np.clip(image + noise, 0.0, 1.0)


def test_a_still_face_shimmers_less_and_the_filter_converges_on_the_face(aligned_still):
    still = aligned_still("s0")
    face = _as_float(still.crop)
    swap = face[:, ::-1].copy()                          # any drawn face: its mirror image
    state: dict = {}
    plain, filtered = [], []
    for seed in range(12):
        drawn = _shimmer(swap, seed)
        plain.append(drawn)
        filtered.append(filter_face(state, face, drawn, 0.7, 0.06))
    change = lambda frames: float(np.mean([np.abs(b - a).mean() for a, b in zip(frames[4:], frames[5:])]))  # noqa: E731
    assert change(filtered) < 0.6 * change(plain)
    assert np.abs(filtered[0] - plain[0]).max() == 0      # the first frame has nothing to keep
    assert np.abs(filtered[-1] - swap).mean() < np.abs(plain[-1] - swap).mean()   # closer to the face drawn


def test_where_the_user_s_face_changes_the_new_swap_is_taken_as_it_is(aligned_still):
    still = aligned_still("s0")
    before = _as_float(still.crop)
    after = before.copy()
    size = before.shape[0]
    lower = slice(size * 5 // 8, size)                   # the user's mouth and chin change (e.g. it opens)
    after[lower] = np.where(before[lower] > 0.5, before[lower] - 0.25, before[lower] + 0.25)
    state: dict = {}
    filter_face(state, before, before[:, ::-1].copy(), 0.9, 0.06)
    new_swap = _shimmer(before[:, ::-1].copy(), 1)
    result = filter_face(state, after, new_swap, 0.9, 0.06)
    changed, still_part = slice(size * 5 // 8 + 4, size), slice(0, size * 5 // 8 - 6)
    assert np.array_equal(result[changed], new_swap[changed])            # no ghost of the previous frame
    assert np.abs(result[still_part] - new_swap[still_part]).mean() > 0.01   # kept where nothing changed


def test_it_follows_the_face_through_the_alignment(aligned_still):
    """The user moved 3 px right: cut out with the alignment of the moved landmarks, the face lines
    up with the previous crop and the previous swap is kept; laid over the frame's old place instead
    (no alignment), the same step is a large change and nothing is."""
    still = aligned_still("s0")
    frame = still.frame
    shift = np.float32([[1, 0, 3], [0, 1, 0]])
    moved_frame = cv2.warpAffine(frame, shift, (frame.shape[1], frame.shape[0]), flags=cv2.INTER_CUBIC,
                                 borderMode=cv2.BORDER_REPLICATE)
    size = still.crop.shape[0]
    moved_matrix = still.matrix.astype(np.float64).copy()
    moved_matrix[:, 2] -= moved_matrix[:, :2] @ np.array([3.0, 0.0])    # the alignment of the moved landmarks
    aligned_crop = cv2.warpAffine(moved_frame, moved_matrix, (size, size), flags=cv2.INTER_CUBIC)
    unaligned_crop = cv2.warpAffine(moved_frame, still.matrix, (size, size), flags=cv2.INTER_CUBIC)
    face = _as_float(still.crop)
    swap_before, swap_now = _shimmer(face, 0), _shimmer(face, 1)
    kept = {}
    for name, crop in (("aligned", aligned_crop), ("unaligned", unaligned_crop)):
        state: dict = {}
        filter_face(state, face, swap_before, 0.7, 0.06)
        kept[name] = float(np.abs(filter_face(state, _as_float(crop), swap_now, 0.7, 0.06) - swap_now).mean())
    assert kept["aligned"] > 0.02 and kept["unaligned"] < 0.5 * kept["aligned"], kept


def test_strength_zero_changes_nothing_and_bad_settings_are_refused(aligned_still, make_temporal_swapper):
    still = aligned_still("s0")
    face = _as_float(still.crop)
    state: dict = {}
    filter_face(state, face, face, 0.0, 0.06)
    drawn = _shimmer(face, 3)
    assert filter_face(state, face, drawn, 0.0, 0.06) is drawn
    for strength, threshold in ((1.0, 0.06), (-0.1, 0.06), (0.5, 0.0)):
        with pytest.raises(ValueError):
            filter_face({}, face, face, strength, threshold)
    with pytest.raises(InputError, match="temporal must be"):
        make_temporal_swapper(temporal=1.5)
    with pytest.raises(InputError, match="temporal_threshold"):
        make_temporal_swapper(temporal=0.5, temporal_threshold=-1)


@pytest.fixture(scope="module")
def make_temporal_swapper(test_model_dir, face_detector):
    from faceswap.model.runtime import load_swap_model

    model = load_swap_model(test_model_dir)

    def _make(**settings) -> FrameSwapper:
        return FrameSwapper(model, face_detector, SwapSettings(**settings))
    return _make


def test_the_frame_swapper_filters_video_faces_through_the_stream_smoother(make_temporal_swapper, clip_path):
    frames = [frame for _, frame in zip(range(4), read_frames(clip_path("d9")))]

    def run(temporal):
        swapper = make_temporal_swapper(temporal=temporal)
        smoother = LandmarkSmoother()
        return [swapper.swap_frame(frame, "a2b", smoother, timestamp_s=index / 30.0).frame
                for index, frame in enumerate(frames)], smoother

    plain, _ = run(0.0)
    filtered, smoother = run(0.7)
    assert np.array_equal(plain[0], filtered[0])                          # nothing to keep on the first frame
    assert not np.array_equal(plain[-1], filtered[-1])
    assert len(smoother.track_states) == 1 and {"key", "input", "output"} <= set(smoother.track_states[0])
    # frame to frame, the filtered face changes less than the unfiltered one
    step = lambda outputs: sum(float(np.abs(b.astype(np.int16) - a.astype(np.int16)).mean())  # noqa: E731
                               for a, b in zip(outputs, outputs[1:]))
    assert step(filtered) < step(plain)
    # a still (no smoother) is never filtered
    swapper = make_temporal_swapper(temporal=0.7)
    assert np.array_equal(swapper.swap_frame(frames[-1], "a2b").frame,
                          make_temporal_swapper().swap_frame(frames[-1], "a2b").frame)


def _flat(value: float, size: int = 16) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.float32)


def test_the_weight_falls_with_the_square_of_the_change_and_each_output_feeds_the_next():
    """Exact on flat crops (grey levels that uint8 holds exactly): a change of c keeps
    strength * (1 - c / threshold)^2 of the previous output, and the previous output is the
    filtered one (exponential memory), not the previous swap."""
    strength, threshold = 0.5, 0.06
    before, after = _flat(102 / 255), _flat(110 / 255)                  # the user's face changed by 8 grey levels
    state: dict = {}
    filter_face(state, before, _flat(51 / 255), strength, threshold)
    result = filter_face(state, after, _flat(153 / 255), strength, threshold)
    weight = strength * (1 - (8 / 255) / threshold) ** 2
    np.testing.assert_allclose(result, 153 / 255 + weight * (51 / 255 - 153 / 255), atol=1e-6)

    state = {}
    swaps = [_flat(51 / 255), _flat(153 / 255), _flat(102 / 255)]         # a still face, the swap shimmering
    outputs = [filter_face(state, before, swap, strength, threshold) for swap in swaps]
    second = 153 / 255 + strength * (51 / 255 - 153 / 255)
    third = 102 / 255 + strength * (np.rint(second * 255) / 255 - 102 / 255)   # kept as uint8 between frames
    np.testing.assert_allclose(outputs[1], second, atol=1e-6)
    np.testing.assert_allclose(outputs[2], third, atol=1e-6)


def test_a_state_made_under_another_key_is_not_used():
    state: dict = {}
    filter_face(state, _flat(0.4), _flat(0.2), 0.5, 0.06, key=("model", "a2b", "illuminant"))
    swap = _flat(0.6)
    assert filter_face(state, _flat(0.4), swap, 0.5, 0.06, key=("model", "b2a", "illuminant")) is swap
    assert state["key"] == ("model", "b2a", "illuminant")
    assert not np.array_equal(filter_face(state, _flat(0.4), _flat(0.8), 0.5, 0.06, key=("model", "b2a", "illuminant")),
                              _flat(0.8))


def test_a_stream_that_switches_direction_does_not_show_the_other_identity(make_temporal_swapper, clip_path):
    """Frame 0 swapped a2b, frame 1 b2a: frame 1 is exactly what the unfiltered pipeline gives
    (same landmark smoothing), nothing of frame 0's a2b face kept."""
    frames = [frame for _, frame in zip(range(2), read_frames(clip_path("d9")))]
    outputs = {}
    for temporal in (0.0, 0.9):
        swapper, smoother = make_temporal_swapper(temporal=temporal), LandmarkSmoother()
        outputs[temporal] = [swapper.swap_frame(frame, direction, smoother, timestamp_s=index / 30.0).frame
                             for index, (frame, direction) in enumerate(zip(frames, ("a2b", "b2a")))]
    assert np.array_equal(outputs[0.0][1], outputs[0.9][1])
    # while the same direction goes on, the filter does keep some of frame 0
    swapper, smoother = make_temporal_swapper(temporal=0.9), LandmarkSmoother()
    same = [swapper.swap_frame(frame, "b2a", smoother, timestamp_s=index / 30.0).frame for index, frame in enumerate(frames)]
    plain_swapper, plain_smoother = make_temporal_swapper(temporal=0.0), LandmarkSmoother()
    plain = [plain_swapper.swap_frame(frame, "b2a", plain_smoother, timestamp_s=index / 30.0).frame
             for index, frame in enumerate(frames)]
    assert not np.array_equal(same[1], plain[1])
