"""The One-Euro filter computes exactly what Casiez et al. (CHI 2012) define, and the landmark
smoother's track matching and restarts hold at their boundaries (faceswap/faces/smoothing.py).
The reference below is the paper's algorithm written out independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceswap.faces.smoothing import LandmarkSmoother, OneEuroFilter, SmoothingSettings


def reference_one_euro(samples, settings: SmoothingSettings, scale: float) -> list[np.ndarray]:
    """The paper's filter: x^_i = a x_i + (1 - a) x^_{i-1}, a = 1 / (1 + tau / Te), tau = 1 / (2 pi fc),
    fc = fc_min + beta |dx^_i|, dx^ the low-passed (cut-off d_cutoff) speed (x_i - x^_{i-1}) / Te,
    here per face size ``scale``; a gap over reset_after or a repeated timestamp starts over."""
    def smoothing_factor(cutoff, elapsed):
        return 1.0 / (1.0 + (1.0 / (2.0 * math.pi * cutoff)) / elapsed)

    outputs, previous, speed, last = [], None, None, None
    for value, time in samples:
        value = np.asarray(value, dtype=np.float64)
        if previous is None or time - last > settings.reset_after or time <= last:
            previous, speed, last = value, np.zeros_like(value), time
            outputs.append(value.copy())
            continue
        elapsed = time - last
        raw_speed = (value - previous) / elapsed / scale
        speed_factor = smoothing_factor(settings.derivative_cutoff, elapsed)
        speed = speed_factor * raw_speed + (1.0 - speed_factor) * speed
        factor = smoothing_factor(settings.min_cutoff + settings.beta * np.abs(speed), elapsed)
        previous = factor * value + (1.0 - factor) * previous
        last = time
        outputs.append(previous.copy())
    return outputs


@pytest.mark.parametrize("settings,scale", [(SmoothingSettings(), 80.0),
                                            (SmoothingSettings(min_cutoff=0.4, beta=0.02, derivative_cutoff=3.0), 1.0)])
def test_the_filter_is_the_papers_one_euro_filter(settings, scale):
    rng = np.random.default_rng(4)
    times = np.cumsum(rng.uniform(0.02, 0.09, 40))
    values = np.cumsum(rng.normal(0, 3.0, (40, 5, 2)), axis=0) + 100.0
    samples = list(zip(values, times))
    expected = reference_one_euro(samples, settings, scale)
    one_euro = OneEuroFilter(settings)
    for (value, time), wanted in zip(samples, expected):
        got = one_euro(value, float(time), scale=scale)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, wanted, rtol=0, atol=1e-9)
    assert np.abs(expected[-1] - values[-1]).max() > 0.1   # it did filter


def test_restarts_at_their_boundaries():
    settings = SmoothingSettings(reset_after=0.5)
    one_euro = OneEuroFilter(settings)
    start, moved = np.zeros((2, 2)), np.full((2, 2), 10.0)
    one_euro(start, 1.0, scale=50.0)
    assert np.abs(one_euro(moved, 1.5, scale=50.0) - moved).max() > 0.1   # exactly reset_after: still filtering
    one_euro(start, 2.0 + 1e-9 + 0.5, scale=50.0)                           # just over: a restart ...
    np.testing.assert_array_equal(one_euro(moved, 2.5 + 1e-9 + 0.5, scale=50.0) != moved, np.ones((2, 2), bool))
    restarted = OneEuroFilter(settings)
    restarted(start, 1.0)
    np.testing.assert_array_equal(restarted(moved, 1.0), moved)              # the same timestamp again: a restart
    np.testing.assert_array_equal(restarted(start, 0.5), start)              # time going back: a restart
    np.testing.assert_array_equal(restarted(np.ones(3), 0.6), np.ones(3))     # another shape: a restart
    integers = OneEuroFilter()(np.arange(4).reshape(2, 2), 0.0)
    assert integers.dtype == np.float64


def square_face(centre) -> np.ndarray:
    """68 integer points in +- pairs around an integer ``centre``, 120 x 80 px: the centre and the
    size ((120 + 80) / 2 = 100) come out exact, so distances can sit exactly on a boundary."""
    rng = np.random.default_rng(9)
    half = np.concatenate([[[60, 40], [-60, 40]], rng.integers(-59, 60, (32, 1)).repeat(2, 1) * [1, 0]
                           + rng.integers(-39, 40, (32, 1)).repeat(2, 1) * [0, 1]])
    return np.concatenate([half, -half]).astype(np.float64) + np.asarray(centre, dtype=np.float64)


def test_a_face_stays_on_its_track_within_half_its_size():
    face = square_face((300.0, 200.0))
    size = (np.ptp(face[:, 0]) + np.ptp(face[:, 1])) / 2
    assert size == pytest.approx(100.0)
    for shift, same_track in (((27.0, 36.0), True),     # 45 px < 50: the same face moved, smoothed
                              ((30.0, 40.0), False),    # 50 px = half the size: another face, unfiltered
                              ((90.0, 120.0), False)):  # 150 px: another face
        smoother = LandmarkSmoother()
        smoother.smooth(face, 0.0)
        moved = face + np.array(shift)
        result = smoother.smooth(moved, 1 / 30)
        assert result.dtype == np.float32 and result.shape == (68, 2)
        if same_track:
            assert np.abs(result - moved).max() > 0.5, shift
        else:
            np.testing.assert_allclose(result, moved, atol=1e-4, err_msg=str(shift))


def test_two_faces_each_follow_the_nearest_track_in_any_order():
    left, right = square_face((200, 300)), square_face((600, 300))
    smoother = LandmarkSmoother()
    smoother.smooth_many([left, right], 0.0)
    nudge = np.array([8.0, 0.0])
    moved_right, moved_left = smoother.smooth_many([right + nudge, left + nudge], 1 / 30)   # listed the other way
    for result, raw in ((moved_right, right + nudge), (moved_left, left + nudge)):
        assert np.abs(result - raw).max() > 0.5   # both still on their tracks: smoothed, not restarted


def test_the_smoother_filters_with_its_own_settings():
    settings = SmoothingSettings(min_cutoff=0.05, beta=0.0, derivative_cutoff=2.0, reset_after=1.0, centre=False)
    smoother, reference = LandmarkSmoother(settings), OneEuroFilter(settings)
    face = square_face((300, 200))
    for step in range(5):
        moved = face + step * 3.0
        np.testing.assert_allclose(smoother.smooth(moved, step / 30), reference(moved, step / 30, scale=100.0),
                                   atol=1e-4)
    # Without a scale the filter measures speed in pixels (scale 1).
    plain, per_pixel = OneEuroFilter(), OneEuroFilter()
    for step in range(4):
        np.testing.assert_allclose(plain(face + step, step / 30), per_pixel(face + step, step / 30, scale=1.0))


def test_the_centre_and_the_shape_are_each_the_papers_filter_with_their_own_settings():
    """With ``centre`` on: the points' mean through a One-Euro filter with ``centre_beta`` and
    ``centre_derivative_cutoff``, the points around it through one with ``beta`` and
    ``derivative_cutoff`` (both the paper's, speeds per face size), summed."""
    settings = SmoothingSettings(min_cutoff=0.7, beta=4.0, derivative_cutoff=1.5, centre_beta=25.0,
                                 centre_derivative_cutoff=8.0)
    rng = np.random.default_rng(6)
    face = square_face((300, 200))
    times = np.cumsum(rng.uniform(0.02, 0.06, 30))
    frames = [face * (1 + 0.01 * np.sin(t)) + rng.normal(0, 1.0, face.shape) + [40 * t, 25 * t] for t in times]
    scales = [float(np.ptp(points[:, 0]) + np.ptp(points[:, 1])) / 2 for points in frames]
    centre_settings = SmoothingSettings(min_cutoff=0.7, beta=25.0, derivative_cutoff=8.0)
    shapes = reference_one_euro([(points - points.mean(axis=0), t) for points, t in zip(frames, times)], settings,
                                scales[0])
    centres = reference_one_euro([(points.mean(axis=0, keepdims=True), t) for points, t in zip(frames, times)],
                                 centre_settings, scales[0])
    smoother = LandmarkSmoother(settings)
    for step, (points, t, scale) in enumerate(zip(frames, times, scales)):
        # the reference's one scale: the face's size barely changes here (1 % breathing)
        assert abs(scale - scales[0]) / scales[0] < 0.03
        got = smoother.smooth(points, float(t))
        np.testing.assert_allclose(got, shapes[step] + centres[step], rtol=0, atol=0.05 * (step > 0) + 1e-3)


def test_a_face_of_one_point_is_smoothed_on_a_one_pixel_scale():
    point = np.full((68, 2), 50.0)
    settings = SmoothingSettings(centre=False)
    smoother, reference = LandmarkSmoother(settings), OneEuroFilter(settings)
    for step in range(4):
        moved = point + step * 0.2   # under half a pixel a frame: the same track
        np.testing.assert_allclose(smoother.smooth(moved, step / 30), reference(moved, step / 30, scale=1.0),
                                   atol=1e-4)
