"""The 468-point mesh -> 68 classic points (faceswap/faces/landmarks.py), checked against an
independent landmarker: dlib's 68-point iBUG shape predictor on the same real faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.faces.landmarks import MESH_TO_68, eye_centres, inter_ocular_distance, mesh_to_68
from faceswap.images import read_image

STILLS = ["s0", "s1", "s3", "s4", "s5", "s8", "s9", "s10", "s12"]


@pytest.fixture(scope="module")
def meshes_and_dlib_points(face_detector, still_path):
    """[(mesh (468, 2), dlib's 68 points (68, 2))] of the largest face of each still."""
    import dlib
    import face_recognition_models

    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    pairs = []
    for name in STILLS:
        image = read_image(still_path(name))
        face = face_detector.detect(image)[0]
        x0, y0, x1, y1 = (int(value) for value in face.box)
        shape = predictor(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dlib.rectangle(x0, y0, x1, y1))
        pairs.append((face.mesh, np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float64)))
    return pairs


def test_each_classic_point_is_one_of_the_mesh_vertices_nearest_to_dlibs(meshes_and_dlib_points):
    """Per classic point, the median distance (in inter-ocular distances, over nine real faces)
    from dlib's point to every mesh vertex: the vertex the table picks is among the five nearest."""
    distances = np.median([np.linalg.norm(mesh[None, :, :] - points[:, None, :], axis=2) / inter_ocular_distance(points)
                           for mesh, points in meshes_and_dlib_points], axis=0)   # (68, 468)
    nearest = np.argsort(distances, axis=1)[:, :5]
    missed = [index for index in range(68) if MESH_TO_68[index] not in nearest[index]]
    assert missed == [], f"classic points whose mesh vertex is not among the 5 nearest to dlib's: {missed}"


def test_the_68_points_of_a_mesh_in_order_and_float32(meshes_and_dlib_points):
    mesh, _ = meshes_and_dlib_points[0]
    points = mesh_to_68(mesh.astype(np.float64))
    assert points.shape == (68, 2) and points.dtype == np.float32
    np.testing.assert_array_equal(points, mesh[MESH_TO_68].astype(np.float32))
    refined = np.vstack([mesh, np.zeros((10, 2), mesh.dtype)])  # a 478-point mesh (iris points appended)
    np.testing.assert_array_equal(mesh_to_68(refined), points)


def test_eye_centres_and_inter_ocular_distance(meshes_and_dlib_points):
    mesh, _ = meshes_and_dlib_points[0]
    points = mesh_to_68(mesh)
    left, right = eye_centres(points)
    np.testing.assert_allclose(left, points[36:42].mean(axis=0))
    np.testing.assert_allclose(right, points[42:48].mean(axis=0))
    assert left[0] < right[0]     # the eye on the image's left first
    assert inter_ocular_distance(points) == pytest.approx(float(np.hypot(*(right - left))), rel=1e-6)
    assert isinstance(inter_ocular_distance(points), float)
