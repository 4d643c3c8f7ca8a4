"""MediaPipe's face landmark model run directly (faceswap/faces/landmark_model.py): the region
geometry, and landmarks on real faces that agree with MediaPipe's own mesh — upright and tilted."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from faceswap.faces.landmark_model import (EYE_CORNERS, INPUT_SIZE, FaceLandmarkModel, Roi, roi_from_box,
                                           roi_from_mesh, shared_landmark_model)


def inter_ocular(mesh: np.ndarray) -> float:
    return float(np.linalg.norm(mesh[EYE_CORNERS[0]] - mesh[EYE_CORNERS[1]]))


def test_region_matrix_maps_the_tensor_onto_the_turned_square():
    roi = Roi(cx=300.0, cy=200.0, side=120.0, angle=math.radians(30))
    matrix = roi.matrix()
    centre = matrix @ np.array([INPUT_SIZE / 2, INPUT_SIZE / 2, 1.0])
    assert np.allclose(centre, [300.0, 200.0])
    right_middle = matrix @ np.array([INPUT_SIZE, INPUT_SIZE / 2, 1.0])
    # The tensor's x axis runs along the region's top edge, turned clockwise on screen (y down).
    assert np.allclose(right_middle - centre, [60 * math.cos(math.radians(30)), 60 * math.sin(math.radians(30))])


def test_regions_from_a_box_and_from_a_level_or_tilted_mesh():
    roi = roi_from_box(np.array([100, 50, 180, 150], dtype=np.float32))
    assert (roi.cx, roi.cy, roi.side, roi.angle) == (140.0, 100.0, 150.0, 0.0)
    mesh = np.zeros((468, 2), dtype=np.float32)
    mesh[:, 0], mesh[:, 1] = np.linspace(100, 200, 468), np.linspace(50, 170, 468)
    mesh[EYE_CORNERS[0]], mesh[EYE_CORNERS[1]] = (120, 100), (180, 100)
    level = roi_from_mesh(mesh)
    assert level.angle == pytest.approx(0.0) and level.side == pytest.approx(180.0)
    assert (level.cx, level.cy) == (pytest.approx(150.0), pytest.approx(110.0))   # the points' box centre
    wide = mesh.copy()
    wide[:, 0] = np.linspace(100, 300, 468)
    wide[EYE_CORNERS[0]], wide[EYE_CORNERS[1]] = (120, 100), (180, 100)
    assert roi_from_mesh(wide).side == pytest.approx(300.0) and roi_from_mesh(wide).cx == pytest.approx(200.0)
    mesh[EYE_CORNERS[1]] = (180, 160)   # the right eye lower on screen: the head leans clockwise
    assert roi_from_mesh(mesh).angle == pytest.approx(math.radians(45))


@pytest.mark.parametrize("tilt_degrees", [0, 25])
def test_landmarks_agree_with_mediapipes_mesh(face_detector, clip_frames, tilt_degrees):
    frame = clip_frames("d9", count=1)[0]
    if tilt_degrees:
        centre = (frame.shape[1] / 2, frame.shape[0] / 2)
        frame = cv2.warpAffine(frame, cv2.getRotationMatrix2D(centre, tilt_degrees, 1.0), frame.shape[1::-1])
    [reference] = face_detector.detect(frame)
    model = FaceLandmarkModel()
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    mesh, presence = model.run(rgb, roi_from_box(reference.box))
    mesh, presence = model.run(rgb, roi_from_mesh(mesh))
    assert 0.9 < presence <= 1.0 and mesh.shape == (468, 2) and mesh.dtype == np.float32
    error = np.linalg.norm(mesh - reference.mesh, axis=1).mean() / inter_ocular(reference.mesh)
    assert error < 0.03


def test_no_face_in_the_region_gives_low_presence(still_path):
    from faceswap.images import read_image

    picture = cv2.cvtColor(read_image(still_path("s23")), cv2.COLOR_BGR2RGB)
    height, width = picture.shape[:2]
    _, presence = shared_landmark_model().run(picture, Roi(width / 2, height / 2, min(width, height) / 2))
    assert 0.0 <= presence < 0.5


def test_one_model_per_process():
    assert shared_landmark_model() is shared_landmark_model()
