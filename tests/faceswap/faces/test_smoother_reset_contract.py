"""``reset()`` of the landmark smoother and of the One-Euro filter starts over: the next value
passes through unfiltered, as the very first value of a stream does (faceswap/faces/smoothing.py)."""

from __future__ import annotations

import numpy as np

from faceswap.faces.smoothing import LandmarkSmoother, OneEuroFilter


def _face(centre=(200.0, 200.0), size=100.0):
    rng = np.random.default_rng(7)
    return rng.uniform(-size / 2, size / 2, (68, 2)) + np.array(centre)


def test_a_reset_smoother_passes_the_next_face_through_unfiltered():
    face = _face()
    smoother = LandmarkSmoother()
    smoother.smooth(face, 0.0)
    nudged = face + 4.0   # the same face a little further on, 1/30 s later: one track
    without_reset = smoother.smooth(nudged, 1 / 30)
    assert np.abs(without_reset - nudged).max() > 0.5, "the smoother did not filter a tracked face"

    smoother = LandmarkSmoother()
    smoother.smooth(face, 0.0)
    smoother.reset()
    np.testing.assert_allclose(smoother.smooth(nudged, 1 / 30), nudged, atol=1e-4)


def test_a_reset_filter_forgets_value_speed_and_time():
    start = np.zeros((3, 2))
    moved = np.full((3, 2), 10.0)
    kept = OneEuroFilter()
    kept(start, 0.0)
    filtered = kept(moved, 0.1, scale=100.0)
    assert np.abs(filtered - moved).max() > 0.5
    restarted = OneEuroFilter()
    restarted(start, 0.0)
    restarted.reset()
    np.testing.assert_array_equal(restarted(moved, 0.1, scale=100.0), moved)
