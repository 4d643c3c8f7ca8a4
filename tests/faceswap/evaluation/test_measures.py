"""Detail, expression and head pose measured on real faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.evaluation.detail import inner_face_mask, laplacian_variance
from faceswap.evaluation.expression import correlation, eye_opening, mouth_opening
from faceswap.evaluation.head_pose import head_pose, pose_difference
from faceswap.evaluation.tone import tone_error


@pytest.fixture(scope="module")
def d18_faces(clip_frames, face_detector):
    """Frames 0 (mouth closed) and 120 (mouth open) of d18 with their landmarks."""
    frames = [clip_frames("d18", count=1, start=start)[0] for start in (0, 120)]
    return [(frame, face_detector.detect(frame)[0].landmarks) for frame in frames]


def test_blur_lowers_the_laplacian_variance_of_the_inner_face(d18_faces):
    frame, landmarks = d18_faces[0]
    mask = inner_face_mask(landmarks, frame.shape)
    assert 0.02 < mask.mean() < 0.5  # the inner face, not the whole frame
    sharp = laplacian_variance(frame, mask)
    blurred = laplacian_variance(cv2.GaussianBlur(frame, (0, 0), 2.0), mask)
    assert sharp > 0 and blurred < 0.3 * sharp
    assert np.isnan(laplacian_variance(frame, np.zeros_like(mask)))


def test_an_open_mouth_measures_open_and_eyes_measure_open(d18_faces):
    (_, closed), (_, opened) = d18_faces
    assert mouth_opening(closed) < 0.05 < 0.2 < mouth_opening(opened)
    assert 0.05 < eye_opening(closed) < 0.3


def test_correlation_needs_motion():
    assert correlation([0, 1, 2, 3], [0, 2, 4, 7]) > 0.95
    assert correlation([0, 1, 2, 3], [3, 2, 1, 0]) == pytest.approx(-1.0)
    assert correlation([1, 1, 1, 1], [0, 1, 2, 3]) is None
    assert correlation([0, 1], [0, 1]) is None


def test_head_pose_of_a_frontal_face_and_a_turned_one_mirrored(d18_faces, face_detector, clip_frames):
    frame, landmarks = d18_faces[0]
    pose = head_pose(landmarks, frame.shape)
    assert all(abs(pose[angle]) < 12 for angle in ("yaw", "pitch", "roll"))  # d18 faces the camera
    turned = clip_frames("d3", count=1, start=270)[0]  # the woman of d3 looks aside here
    pose = head_pose(face_detector.detect(turned)[0].landmarks, turned.shape)
    assert abs(pose["yaw"]) > 15 and abs(pose["roll"]) < 15  # no mirrored (roll ~180) solution
    mirrored = cv2.flip(turned, 1)
    mirror_pose = head_pose(face_detector.detect(mirrored)[0].landmarks, mirrored.shape)
    assert mirror_pose["yaw"] == pytest.approx(-pose["yaw"], abs=5.0)
    assert mirror_pose["roll"] == pytest.approx(-pose["roll"], abs=3.0)
    assert mirror_pose["pitch"] == pytest.approx(pose["pitch"], abs=3.0)
    assert pose_difference(pose, pose) == {"yaw": 0.0, "pitch": 0.0, "roll": 0.0}
    assert pose_difference({"yaw": 179.0, "pitch": 0.0, "roll": 0.0},
                           {"yaw": -179.0, "pitch": 0.0, "roll": 0.0})["yaw"] == pytest.approx(2.0)


def _forehead_patch(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """float32 (H, W) in [0, 1]: a soft blob between the brows, a fifth of the face wide."""
    width = float(np.ptp(landmarks[:, 0]))
    centre = (landmarks[21] + landmarks[22]) / 2.0
    blob = np.zeros(frame.shape[:2], np.float32)
    cv2.circle(blob, tuple(int(round(v)) for v in centre), int(width * 0.12), 1.0, -1)
    return cv2.GaussianBlur(blob, (0, 0), width * 0.05)


def test_tone_error_sees_a_pale_patch_and_not_fine_detail(d18_faces):
    frame, landmarks = d18_faces[0]
    assert tone_error(frame, frame, landmarks) == 0.0
    patch = _forehead_patch(frame, landmarks)[..., None]
    pale = (frame + patch * 0.6 * (245.0 - frame)).astype(np.uint8)          # shine towards white
    noise = np.random.default_rng(0).normal(0, 12, frame.shape)              # fine grain, no tone
    grainy = np.clip(frame + noise, 0, 255).astype(np.uint8)
    shifted = np.clip(frame.astype(np.int16) + (0, 0, 12), 0, 255).astype(np.uint8)   # redder all over
    assert tone_error(frame, pale, landmarks) > 2.5 > 1.0 > tone_error(frame, grainy, landmarks)
    assert tone_error(frame, shifted, landmarks) > 2.5                        # a global shift counts too


def test_tone_error_of_a_face_outside_the_frame_is_nan(d18_faces):
    frame, landmarks = d18_faces[0]
    assert np.isnan(tone_error(frame, frame, landmarks + np.float32([10 * frame.shape[1], 0])))
    assert np.isnan(tone_error(frame, frame, np.full((68, 2), 50.0)))          # degenerate landmarks
    assert np.isnan(tone_error(frame, frame, np.full((68, 2), np.nan)))


def test_tone_error_refuses_frames_of_different_shapes(d18_faces):
    frame, landmarks = d18_faces[0]
    with pytest.raises(ValueError, match="shapes differ"):
        tone_error(frame, frame[::2, ::2], landmarks)
