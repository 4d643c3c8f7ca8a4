"""Face masks from landmarks."""

from __future__ import annotations

import numpy as np

from faceswap.faces.alignment import EXTRACT_LAYOUT, align_face, transform_points
from faceswap.faces.masks import MaskSettings, face_hull_points, face_mask, skin_mask
from faceswap.images import read_image


def _aligned_landmarks(face_detector, still_path):
    image = read_image(still_path("s0"))
    face = face_detector.detect(image)[0]
    _, matrix = align_face(image, face.landmarks, EXTRACT_LAYOUT)
    return transform_points(face.landmarks, matrix)


def test_mask_covers_the_face_and_not_the_corners(face_detector, still_path):
    landmarks = _aligned_landmarks(face_detector, still_path)
    mask = face_mask(landmarks, 256)
    assert mask.shape == (256, 256) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    nose = landmarks[30].astype(int)
    assert mask[nose[1], nose[0]] > 0.99
    assert mask[0:10, 0:10].max() == 0.0 and mask[-10:, -10:].max() == 0.0


def test_mask_reaches_the_forehead(face_detector, still_path):
    landmarks = _aligned_landmarks(face_detector, still_path)
    points = face_hull_points(landmarks)
    assert points.shape == (78, 2)
    assert points[68:, 1].min() < landmarks[17:27, 1].min() - 10
    with_forehead = face_mask(landmarks, 256, MaskSettings(forehead=0.35))
    without = face_mask(landmarks, 256, MaskSettings(forehead=0.0))
    assert with_forehead.sum() > without.sum() * 1.1


def test_feather_makes_a_soft_edge_and_erosion_shrinks(face_detector, still_path):
    landmarks = _aligned_landmarks(face_detector, still_path)
    hard = face_mask(landmarks, 256, MaskSettings(erode=0.0, feather=0.0))
    soft = face_mask(landmarks, 256, MaskSettings(erode=0.0, feather=0.08))
    eroded = face_mask(landmarks, 256, MaskSettings(erode=0.08, feather=0.0))
    partial = lambda m: ((m > 0.02) & (m < 0.98)).sum()
    assert partial(soft) > 10 * max(1, partial(hard))
    assert eroded.sum() < hard.sum() * 0.9


def test_skin_mask_is_the_face_below_the_brows_without_eyes_brows_and_mouth(face_detector, still_path):
    landmarks = _aligned_landmarks(face_detector, still_path)
    skin = skin_mask(landmarks, 256)
    assert skin.dtype == np.float32 and set(np.unique(skin)) == {0.0, 1.0}
    at = lambda point: skin[int(round(point[1])), int(round(point[0]))]
    assert at(landmarks[30]) == 1.0 and at((landmarks[41] + landmarks[48]) / 2) == 1.0  # nose, cheek
    for feature in (37, 40, 44, 47, 19, 24, 51, 57, 62, 66):  # eyes, brows, lips, mouth interior
        assert at(landmarks[feature]) == 0.0, feature
    brows_top = int(landmarks[17:27, 1].min())
    assert skin[: brows_top - 1].max() == 0.0  # no hair: nothing above the brows
    chin = int(landmarks[8, 1])
    assert skin[chin + 2:].max() == 0.0  # no neck
