"""Per-stream state follows ``stream_id`` (prediction_routine/predictor.py): the frames of one stream
are swapped with that stream's landmark smoother and face tracker, a new stream starts afresh, and a
request without a ``stream_id`` keeps nothing between frames. Observed through ``predict`` only."""

from __future__ import annotations

import numpy as np
import pytest

from prediction_routine.predictor import ModelPrediction, RoutineSettings
from tests.prediction_routine.conftest import image_of, instance


def merged(routine, jpeg: bytes, stream_id: str | None = None) -> np.ndarray:
    [result] = routine.predict([instance(jpeg, stream_id=stream_id)])
    assert result["error"] is None and result["faces"] == 1, result.get("error")
    return image_of(result).astype(np.int16)


@pytest.fixture(scope="module")
def smoothing_only_routine(test_model_dir):
    """The real routine with per-stream trackers off: a stream's state is its landmark smoother."""
    return ModelPrediction.from_path(str(test_model_dir), settings=RoutineSettings(stream_tracking=False))


def test_frames_without_a_stream_are_swapped_alike_every_time(smoothing_only_routine, d9_jpegs):
    first = [merged(smoothing_only_routine, jpeg) for jpeg in d9_jpegs[:3]]
    again = [merged(smoothing_only_routine, jpeg) for jpeg in d9_jpegs[:3]]
    for one, other in zip(first, again):
        np.testing.assert_array_equal(one, other)


def test_a_stream_smooths_its_own_frames_and_a_new_stream_starts_afresh(smoothing_only_routine, d9_jpegs):
    routine = smoothing_only_routine
    stateless = [merged(routine, jpeg) for jpeg in d9_jpegs[:6]]
    # Two streams interleaved: "left" gets frames 0, 1, 2; "right" starts on frame 3 meanwhile.
    left = [merged(routine, d9_jpegs[0], "left")]
    right = [merged(routine, d9_jpegs[3], "right")]
    left.append(merged(routine, d9_jpegs[1], "left"))
    right.append(merged(routine, d9_jpegs[4], "right"))
    left.append(merged(routine, d9_jpegs[2], "left"))
    right.append(merged(routine, d9_jpegs[5], "right"))
    # The first frame of a stream has no history: exactly the stateless swap, even though another
    # stream is half-way through (no state leaks between streams).
    np.testing.assert_array_equal(left[0], stateless[0])
    np.testing.assert_array_equal(right[0], stateless[3])
    # Later frames were smoothed with the stream's own earlier landmarks: not the stateless swap.
    for later, alone in ((left[1], stateless[1]), (left[2], stateless[2]),
                         (right[1], stateless[4]), (right[2], stateless[5])):
        assert np.abs(later - alone).mean() > 0.02, "a stream's frame was swapped without its state"


def test_a_tracked_stream_follows_the_face_with_its_own_tracker(routine, d9_jpegs):
    """With the default per-stream tracker, a stream's frames differ from the stateless swaps (the
    tracker follows the face from frame to frame instead of detecting it afresh)."""
    stateless = [merged(routine, jpeg) for jpeg in d9_jpegs[:4]]
    streamed = [merged(routine, jpeg, "tracked-stream") for jpeg in d9_jpegs[:4]]
    differences = [float(np.abs(one - other).mean()) for one, other in zip(streamed, stateless)]
    assert sum(difference > 0.02 for difference in differences) >= 3, differences
