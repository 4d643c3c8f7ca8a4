"""One-Euro landmark smoothing."""

from __future__ import annotations

import numpy as np

from faceswap.faces.smoothing import MIN_STEP_S, LandmarkSmoother, OneEuroFilter, SmoothingSettings


def _face(centre=(200.0, 200.0), size=100.0):
    rng = np.random.default_rng(3)
    return rng.uniform(-size / 2, size / 2, (68, 2)) + np.array(centre)


def test_jitter_on_a_still_face_is_reduced():
    rng = np.random.default_rng(0)
    face = _face()
    smoother = LandmarkSmoother()
    raw, smooth = [], []
    for step in range(120):
        noisy = face + rng.normal(0, 1.5, face.shape)
        raw.append(noisy)
        smooth.append(smoother.smooth(noisy, step / 30))
    raw_jitter = np.abs(np.diff(raw[30:], axis=0)).mean()
    smooth_jitter = np.abs(np.diff(smooth[30:], axis=0)).mean()
    assert smooth_jitter < raw_jitter / 3


def test_fast_motion_is_followed_with_little_lag():
    face = _face()
    smoother = LandmarkSmoother()
    for step in range(60):
        moved = face + np.array([step * 10.0, 0.0])    # 300 px/s
        result = smoother.smooth(moved, step / 30)
    assert np.abs(result - moved).mean() < 15.0


def test_reset_and_gaps_start_over():
    face = _face()
    smoother = LandmarkSmoother(SmoothingSettings(reset_after=0.5))
    smoother.smooth(face, 0.0)
    jumped = face + 80
    np.testing.assert_allclose(smoother.smooth(jumped, 2.0), jumped, atol=1e-4)   # long gap
    smoother.reset()
    np.testing.assert_allclose(smoother.smooth(face, 2.1), face, atol=1e-4)


def test_two_faces_keep_their_own_tracks():
    left, right = _face((100, 200)), _face((500, 200))
    smoother = LandmarkSmoother()
    for step in range(10):
        out = smoother.smooth_many([right, left] if step % 2 else [left, right], step / 30)
    np.testing.assert_allclose(out[1], left, atol=1.0)
    np.testing.assert_allclose(out[0], right, atol=1.0)


def test_filter_first_value_passes_through():
    value = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(OneEuroFilter()(value, 0.0), value)


def test_each_followed_face_keeps_its_own_state_until_it_is_lost():
    """``track_states``: one dict per face of the last call, the same object while the face is
    followed, a new one for a new face and after a pause longer than ``reset_after``."""
    smoother = LandmarkSmoother()
    square = np.array([[x, y] for x in range(0, 100, 10) for y in range(0, 100, 10)][:68], dtype=np.float64)
    left, right = square + [100, 100], square + [600, 100]
    smoother.smooth_many([left, right], 0.0)
    first_left, first_right = smoother.track_states
    assert first_left is not first_right and first_left == {} == first_right
    first_left["kept"] = 1
    smoother.smooth_many([right + 2, left + 2], 1 / 30)                 # order changed, faces moved a little
    assert smoother.track_states[0] is first_right and smoother.track_states[1] is first_left
    smoother.smooth_many([left + 4], 1 / 30 + smoother.settings.reset_after + 0.1)   # a long pause
    assert smoother.track_states[0] == {} and smoother.track_states[0] is not first_left
    smoother.reset()
    assert smoother.track_states == []


def test_a_step_too_small_to_measure_a_speed_starts_over_and_never_makes_nan():
    """A repeated frame time (a retried request) or a sender's clock that barely moves (a step of a
    subnormal float: an infinite speed, then 0 x inf) must not poison the track: the frame starts
    it over, and the next ones are smoothed again."""
    face = _face()
    for step in (0.0, 5e-324, 1e-318, MIN_STEP_S / 2):
        smoother = LandmarkSmoother()
        smoother.smooth(face, 1.0)
        moved = face + 3.0
        np.testing.assert_allclose(smoother.smooth(moved, 1.0 + step), moved, atol=1e-4)   # started over
        later = smoother.smooth(moved + 1.0, 1.0 + step + 1 / 30)
        assert np.all(np.isfinite(later)) and np.abs(later - (moved + 1.0)).max() < 1.0 + 1e-4


def test_the_environment_overrides_the_smoothing_defaults():
    from faceswap.faces.smoothing import smoothing_settings

    assert smoothing_settings(environ={}) == SmoothingSettings()
    settings = smoothing_settings(environ={"FACESWAP_SMOOTH_BETA": "12.5", "FACESWAP_SMOOTH_MIN_CUTOFF": "2"})
    assert (settings.beta, settings.min_cutoff) == (12.5, 2.0)


def _detected_landmarks(face_detector, frames):
    found = [face_detector.detect(frame) for frame in frames]
    assert all(found)
    return [faces[0].landmarks for faces in found]


def _smoothed(settings, landmarks, fps):
    smoother = LandmarkSmoother(settings)
    return np.array([smoother.smooth(points, step / fps) for step, points in enumerate(landmarks)])


def test_the_face_centre_filter_follows_a_moving_head_with_half_the_lag(face_detector, clip_frames):
    """d12's head turns fast and jerks (a 20 fps camera in a 25 fps file): a filter per coordinate
    dragged the landmarks ~7 % of the inter-ocular distance behind the detected ones on average; the
    centre's own filter lets go within a frame or two (measured 2.5 % on these 40 frames)."""
    from faceswap.faces.landmarks import inter_ocular_distance

    landmarks = np.array(_detected_landmarks(face_detector, clip_frames("d12", count=40)))
    iod = float(np.median([inter_ocular_distance(points) for points in landmarks]))
    lag = {centre: np.linalg.norm(_smoothed(SmoothingSettings(centre=centre), landmarks, 25.0) - landmarks,
                                  axis=2).mean() / iod
           for centre in (True, False)}
    assert lag[True] < 0.05 and lag[True] < 0.6 * lag[False], lag


def test_the_face_centre_filter_keeps_a_still_face_as_smooth(face_detector, clip_frames):
    """d18 barely moves: the split lets little more of the landmarks' shake through (frame-to-frame
    motion kept: 0.62 of the detected landmarks' with the split, 0.59 without)."""
    landmarks = np.array(_detected_landmarks(face_detector, clip_frames("d18", count=30)))
    raw = np.abs(np.diff(landmarks, axis=0)).mean()
    kept = {centre: np.abs(np.diff(_smoothed(SmoothingSettings(centre=centre), landmarks, 30.0), axis=0)).mean() / raw
            for centre in (True, False)}
    assert kept[True] < 0.67 and kept[True] < 1.1 * kept[False], kept


def test_a_still_face_shaken_as_a_whole_keeps_little_of_the_shake():
    """The detector's noise is mostly the whole mesh shaking (on the still clips ~3/4 of it): the
    centre's filter, which reads speed quickly, must still hold a still face (0.26 of the shake kept
    at a quarter pixel on a 100 px face; 0.20 by the filter per coordinate)."""
    rng = np.random.default_rng(0)
    face = _face()
    smoother = LandmarkSmoother()
    raw, smooth = [], []
    for step in range(300):
        shaken = face + rng.normal(0, 0.25, (1, 2)) + rng.normal(0, 0.125, face.shape)
        raw.append(shaken)
        smooth.append(smoother.smooth(shaken, step / 30))
    kept = np.abs(np.diff(smooth[30:], axis=0)).mean() / np.abs(np.diff(raw[30:], axis=0)).mean()
    assert kept < 0.3, kept
