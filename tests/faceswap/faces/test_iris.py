"""MediaPipe's iris model and gaze as a position inside the eye (faceswap/faces/iris.py)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from faceswap.faces.iris import EYE_CORNERS, gaze_of, gazes, irises, point_at_gaze


@pytest.fixture(scope="module")
def faces(clip_frames, face_detector):
    """Real faces looking about into the camera: (frame, mesh) of d9, d18 and d13."""
    found = []
    for name in ("d9", "d18", "d13"):
        frame = clip_frames(name, count=1)[0]
        found.append((frame, face_detector.detect(frame)[0].mesh))
    return found


def test_each_iris_is_found_inside_its_eye(faces):
    for frame, mesh in faces:
        for iris, (left, right, _) in zip(irises(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), mesh), EYE_CORNERS):
            assert iris is not None
            along, across = gaze_of(iris[0], mesh[left], mesh[right])
            assert 0.3 < along < 0.7 and abs(across) < 0.15, (along, across)
            width = np.linalg.norm(mesh[right][:2] - mesh[left][:2])
            radius = np.linalg.norm(iris[1:] - iris[0], axis=1).mean()
            assert 0.15 * width < radius < 0.35 * width


def test_a_mirrored_face_reads_a_mirrored_gaze(faces, face_detector):
    """On the mirrored picture each eye reads the other eye's position along the eye, mirrored
    (1 - along): measured 0.035-0.04 apart on average (the detector's mesh on a mirrored face is not
    exactly the mirrored mesh)."""
    differences = []
    for frame, mesh in faces:
        mirrored = np.ascontiguousarray(frame[:, ::-1])
        mirrored_mesh = face_detector.detect(mirrored)[0].mesh
        before = gazes(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), mesh)
        after = gazes(cv2.cvtColor(mirrored, cv2.COLOR_BGR2RGB), mirrored_mesh)
        differences += [abs(after[1 - eye][0] - (1.0 - before[eye][0])) for eye in (0, 1)]
    assert np.mean(differences) < 0.06 and max(differences) < 0.1, differences


@pytest.mark.parametrize("eye", [0, 1])
def test_an_iris_moved_in_the_picture_is_read_where_it_went(faces, eye):
    """Move the pixels of one eye's iris along the eye, either way: the reading follows (the
    model looks at the picture; the eye on the image's right goes through the model mirrored)."""
    frame, mesh = faces[0]
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    left, right, _ = EYE_CORNERS[eye]
    iris = irises(rgb, mesh)[eye]
    radius = float(np.linalg.norm(iris[1:] - iris[0], axis=1).mean())
    width = float(np.linalg.norm(mesh[right][:2] - mesh[left][:2]))
    x, y = (int(value) for value in iris[0])
    r = int(math.ceil(radius * 1.1))
    patch = rgb[y - r:y + r + 1, x - r:x + r + 1].copy()
    before = gaze_of(iris[0], mesh[left], mesh[right])[0]
    for sign in (-1, 1):
        dx = sign * int(round(0.12 * width))
        moved = rgb.copy()
        moved[y - r:y + r + 1, x - r + dx:x + r + 1 + dx] = patch
        after = gaze_of(irises(moved, mesh)[eye][0], mesh[left], mesh[right])[0]
        assert sign * (after - before) > 0.5 * abs(dx) / width, (sign, before, after, dx / width)


def test_gaze_is_a_position_in_the_eye_whatever_its_size_or_roll():
    left, right = np.array([10.0, 20.0]), np.array([40.0, 20.0])
    iris = np.array([28.0, 22.0])
    gaze = gaze_of(iris, left, right)
    np.testing.assert_allclose(gaze, [0.6, 2.0 / 30.0])
    np.testing.assert_allclose(point_at_gaze(gaze, left, right), iris)
    turn = np.array([[math.cos(0.5), -math.sin(0.5)], [math.sin(0.5), math.cos(0.5)]])
    moved = [3.0 * turn @ point + [100.0, -7.0] for point in (iris, left, right)]
    np.testing.assert_allclose(gaze_of(*moved), gaze, atol=1e-12)


def test_a_closed_eye_has_no_iris_to_read(clip_path, face_detector):
    """The iris model answers on a shut eye too (an iris of a plausible size), so an eye whose lids
    are closed as far as the merge's blink region takes over (paired lid gap under 0.16 of its
    width) reads None: d12's blink, frames 48-50; the open eyes around it read."""
    from faceswap.conversion.video_io import read_frames

    read = {}
    for index, frame in enumerate(read_frames(clip_path("d12"))):
        if index in (47, 48, 49, 50, 52):
            mesh = face_detector.detect(frame)[0].mesh
            read[index] = [iris is not None for iris in irises(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), mesh)]
        if index >= 52:
            break
    assert read == {47: [True, True], 48: [False, False], 49: [False, False], 50: [False, False], 52: [True, True]}
