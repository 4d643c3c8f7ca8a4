"""Landmark warp on real faces: the swapped face's features are found where they are drawn, and the
warp moves them onto the user's landmarks; the field is smooth, local and bounded; errors are clear."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from faceswap.faces.alignment import FaceLayout, align_face, transform_points
from faceswap.faces.landmark_model import shared_landmark_model
from faceswap.faces.landmarks import inter_ocular_distance, mesh_to_68
from faceswap.faces.masks import face_mask
from faceswap.images import read_image
from faceswap.swapping.landmark_warp import (DISPLACEMENT_SMOOTHING, MAX_DISPLACEMENT_SHARE,
                                             displacement_field, face_meshes, landmark_warp, posed_landmarks,
                                             similarity_3d,
                                             swapped_landmarks, warp_face)

SIZE = 96
INNER = slice(17, 68)   # brows, nose, eyes, mouth: the points inside the model crop


@pytest.fixture(scope="module")
def user(still_path, face_detector):
    """The largest face of sample still s0 at the bundled model's layout (96 px, no padding):
    frame, crop float32 BGR [0, 1], matrix, mask, landmarks (crop px), mesh (frame px)."""
    frame = read_image(still_path("s0"))
    face = face_detector.detect(frame)[0]
    crop, matrix = align_face(frame, face.landmarks, FaceLayout(SIZE, 0.0), "cubic")
    landmarks = transform_points(face.landmarks, matrix)
    return SimpleNamespace(frame=frame, crop=crop.astype(np.float32) / 255.0, matrix=matrix,
                           mask=face_mask(landmarks, SIZE), landmarks=landmarks, mesh=face.mesh)


def _shifted(user, dx: float, dy: float) -> np.ndarray:
    """The user's face cut out ``dx``, ``dy`` crop px further right and down: features drawn off their place."""
    shift = np.array([[1.0, 0.0, -dx], [0.0, 1.0, -dy]])
    crop = cv2.warpAffine(user.crop, shift, (SIZE, SIZE), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    return np.clip(crop, 0.0, 1.0)


def _found(user, swapped):
    return swapped_landmarks(user.frame, user.matrix, swapped, user.mask, user.mesh, shared_landmark_model())


def test_the_users_own_face_is_found_where_it_is(user):
    found, presence = _found(user, user.crop)
    assert presence > 0.9
    error = np.linalg.norm(found[INNER] - user.landmarks[INNER], axis=1).mean()
    assert error < 0.03 * inter_ocular_distance(user.landmarks), error


def test_features_drawn_off_their_place_are_found_there(user):
    found, _ = _found(user, _shifted(user, 4.0, -3.0))
    offset = (found[INNER] - user.landmarks[INNER]).mean(axis=0)
    assert np.allclose(offset, [4.0, -3.0], atol=1.0), offset


@pytest.mark.parametrize("features", [0.0, 0.35, 1.0])
@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_the_warp_moves_features_drawn_off_their_place_back(user, strength, features):
    swapped = _shifted(user, 4.0, -3.0)
    warped = landmark_warp(user.frame, user.matrix, swapped, user.mask, user.landmarks, user.mesh,
                           shared_landmark_model(), strength, 0.15, features=features)
    before = (_found(user, swapped)[0][INNER] - user.landmarks[INNER]).mean(axis=0)
    after = (_found(user, warped)[0][INNER] - user.landmarks[INNER]).mean(axis=0)
    # strength s leaves (1 - s) of the offset, less what the regularised field does not reach
    assert np.linalg.norm(after) < (1.0 - strength) * np.linalg.norm(before) + 1.5, (before, after)
    assert np.linalg.norm(after) > (1.0 - strength) * np.linalg.norm(before) - 1.5, (before, after)


def _transformed(user, matrix: np.ndarray) -> np.ndarray:
    crop = cv2.warpAffine(user.crop, matrix, (SIZE, SIZE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.clip(crop, 0.0, 1.0)


def _error(user, swapped) -> float:
    return float(np.linalg.norm(_found(user, swapped)[0][INNER] - user.landmarks[INNER], axis=1).mean())


@pytest.mark.parametrize("features", [0.0, 0.35, 1.0])
def test_a_face_drawn_with_another_head_roll_is_turned_to_the_users(user, features):
    centre = user.landmarks[INNER].mean(axis=0)
    rolled = _transformed(user, cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 6.0, 1.0))
    warped = landmark_warp(user.frame, user.matrix, rolled, user.mask, user.landmarks, user.mesh,
                           shared_landmark_model(), 1.0, 0.15, features=features)
    before, after = _error(user, rolled), _error(user, warped)
    assert before > 3.0 and after < 0.45 * before, (before, after)


def test_the_features_share_goes_from_the_swapped_faces_own_shape_to_the_users(user):
    """A face with eyes set wider than the user's (a stretch across): features 0 (the head pose
    only) keeps more of the swapped face's shape (a head pose cannot explain it), 1 moves the eyes
    onto the user's, and a share between lands between, nearer the user's as it grows."""
    centre = user.landmarks[INNER].mean(axis=0)
    wide = _transformed(user, np.array([[1.1, 0.0, -0.1 * centre[0]], [0.0, 1.0, 0.0]]))
    distance = {}
    for features in (0.0, 0.5, 1.0):
        warped = landmark_warp(user.frame, user.matrix, wide, user.mask, user.landmarks, user.mesh,
                               shared_landmark_model(), 1.0, 0.15, features=features)
        distance[features] = inter_ocular_distance(_found(user, warped)[0])
    drawn, own = inter_ocular_distance(_found(user, wide)[0]), inter_ocular_distance(user.landmarks)
    assert drawn > 1.06 * own
    assert distance[1.0] < distance[0.0] - 0.5 < drawn, (own, drawn, distance)
    assert distance[1.0] + 0.2 < distance[0.5] < distance[0.0] - 0.2, (own, drawn, distance)


@pytest.mark.parametrize("features", [-0.1, 1.1, float("nan")])
def test_a_features_share_outside_0_to_1_is_a_clear_error(user, features):
    with pytest.raises(ValueError, match=f"the landmark warp's features share is in \\[0, 1\\], not {features}"):
        landmark_warp(user.frame, user.matrix, user.crop, user.mask, user.landmarks, user.mesh,
                      shared_landmark_model(), 1.0, 0.15, features=features)


def test_on_video_the_displacements_are_smoothed_per_track(user):
    """The second frame of a track moves half way from the first frame's displacements to its own;
    a state kept for another model or direction is not used."""
    state: dict = {}
    key = ("model", "a2b")
    still = landmark_warp(user.frame, user.matrix, user.crop, user.mask, user.landmarks, user.mesh,
                          shared_landmark_model(), 1.0, 0.15, state, key, features=1.0)
    first = state["landmark_warp"][1].copy()
    shifted = _shifted(user, 4.0, 0.0)
    landmark_warp(user.frame, user.matrix, shifted, user.mask, user.landmarks, user.mesh,
                  shared_landmark_model(), 1.0, 0.15, state, key, features=1.0)
    own = _found(user, shifted)[0] - user.landmarks
    assert np.allclose(state["landmark_warp"][1], first + DISPLACEMENT_SMOOTHING * (own - first), atol=1e-6)
    assert 1.5 < state["landmark_warp"][1][INNER, 0].mean() < 3.0   # about half of the 4 px
    landmark_warp(user.frame, user.matrix, shifted, user.mask, user.landmarks, user.mesh,
                  shared_landmark_model(), 1.0, 0.15, state, ("model", "b2a"), features=1.0)
    assert np.allclose(state["landmark_warp"][1], own, atol=1e-6)
    assert still.shape == user.crop.shape
    # smoothing 1: each frame's own displacements, nothing of the previous frame's
    state = {}
    landmark_warp(user.frame, user.matrix, user.crop, user.mask, user.landmarks, user.mesh,
                  shared_landmark_model(), 1.0, 0.15, state, key, features=1.0, smoothing=1.0)
    landmark_warp(user.frame, user.matrix, shifted, user.mask, user.landmarks, user.mesh,
                  shared_landmark_model(), 1.0, 0.15, state, key, features=1.0, smoothing=1.0)
    assert np.allclose(state["landmark_warp"][1], own, atol=1e-6)


def test_on_video_the_field_can_be_made_on_one_frame_in_every_n(user, monkeypatch):
    """every=3: frames 1 and 4 find the meshes (two landmark-model runs each) and make the field;
    frames 2 and 3 are warped with frame 1's field, whatever they show; another key starts afresh."""
    model = shared_landmark_model()
    runs: list[int] = []
    original = model.run_3d
    monkeypatch.setattr(model, "run_3d", lambda *args: runs.append(1) or original(*args))
    state: dict = {}
    key = ("model", "a2b")
    shifted = _shifted(user, 4.0, -3.0)
    warp = lambda face, key=key: landmark_warp(user.frame, user.matrix, face, user.mask,  # noqa: E731
                                               user.landmarks, user.mesh, model, 1.0, 0.15, state, key,
                                               features=0.0, every=3)
    first = warp(shifted)
    assert len(runs) == 2
    field = state["landmark_warp_field"][1]
    # frames 2 and 3: no model run, frame 1's field on whatever is drawn now
    assert np.array_equal(warp(user.crop), warp_face(user.crop, field, 1.0)) and len(runs) == 2
    assert np.array_equal(warp(shifted), first) and len(runs) == 2
    warp(user.crop)
    assert len(runs) == 4
    warp(user.crop, ("model", "b2a"))
    assert len(runs) == 6
    # a still (no state) makes its own field whatever ``every`` says
    still = landmark_warp(user.frame, user.matrix, shifted, user.mask, user.landmarks, user.mesh, model,
                          1.0, 0.15, None, key, features=0.0, every=3)
    assert np.array_equal(still, first) and len(runs) == 8
    # every=2: one frame with its own field, one with the kept one
    state.clear()
    runs.clear()
    for _ in range(4):
        landmark_warp(user.frame, user.matrix, shifted, user.mask, user.landmarks, user.mesh, model,
                      1.0, 0.15, state, key, features=0.0, every=2)
    assert len(runs) == 4
    with pytest.raises(ValueError, match="one frame in every >= 1 frames, not 0"):
        landmark_warp(user.frame, user.matrix, user.crop, user.mask, user.landmarks, user.mesh, model,
                      1.0, 0.15, state, key, every=0)


def test_the_posed_landmarks_of_the_users_own_mesh_are_its_own(user):
    mesh, presence, own = face_meshes(user.frame, user.matrix, user.crop, user.mask, user.mesh,
                                      shared_landmark_model(), with_user=True)
    assert presence > 0.9 and own.shape == mesh.shape == (468, 3)
    assert np.abs(posed_landmarks(mesh, own) - mesh_to_68(mesh[:, :2])).max() < 1.0
    assert np.abs(mesh - own).max() < 1.0   # the same face in the same crop


def test_a_face_the_landmark_model_cannot_find_is_left_as_drawn(user):
    noise = np.random.default_rng(0).random((SIZE, SIZE, 3), dtype=np.float32)
    full = np.ones((SIZE, SIZE), np.float32)
    out = landmark_warp(user.frame, user.matrix, noise, full, user.landmarks, user.mesh, shared_landmark_model(),
                        1.0, 0.15)
    assert out is noise
    # on video: a field kept from an earlier frame is dropped (the next found face makes its own),
    # and a track that never had one is no error
    for state in ({"landmark_warp_field": (("model", "a2b"), np.zeros((SIZE, SIZE, 2), np.float32), 0)}, {}):
        out = landmark_warp(user.frame, user.matrix, noise, full, user.landmarks, user.mesh, shared_landmark_model(),
                            1.0, 0.15, state, ("model", "b2a"), every=2)
        assert out is noise and "landmark_warp_field" not in state


def test_similarity_3d_recovers_a_known_rotation_scale_and_shift_and_never_mirrors(user):
    mesh, _, _ = face_meshes(user.frame, user.matrix, user.crop, user.mask, user.mesh, shared_landmark_model())
    angle = np.radians(20.0)
    rotation = np.array([[np.cos(angle), 0.0, np.sin(angle)], [0.0, 1.0, 0.0], [-np.sin(angle), 0.0, np.cos(angle)]])
    shift = np.array([3.0, -2.0, 5.0])
    target = 1.3 * mesh @ rotation.T + shift
    scale, found, translation = similarity_3d(mesh, target)
    assert scale == pytest.approx(1.3, abs=1e-9)
    assert np.allclose(found, rotation, atol=1e-9) and np.allclose(translation, shift, atol=1e-6)
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    scale, found, _ = similarity_3d(mesh, mirrored)
    assert np.linalg.det(found) == pytest.approx(1.0) and 0.0 < scale < 1.3


def test_posed_landmarks_turn_the_swapped_faces_shape_to_the_users_pose(user):
    """A user mesh that is the swapped face's turned by 15 degrees of yaw, scaled and shifted: the
    posed landmarks are that turned face's own, seen from the camera; the jaw stays where found."""
    mesh, _, _ = face_meshes(user.frame, user.matrix, user.crop, user.mask, user.mesh, shared_landmark_model())
    angle = np.radians(15.0)
    rotation = np.array([[np.cos(angle), 0.0, np.sin(angle)], [0.0, 1.0, 0.0], [-np.sin(angle), 0.0, np.cos(angle)]])
    turned = 0.9 * (mesh.astype(np.float32) - 48.0) @ rotation.T + 48.0 + np.array([2.0, 1.0, 0.0])
    posed = posed_landmarks(mesh.astype(np.float32), turned.astype(np.float32))
    assert posed.dtype == np.float64
    assert np.abs(posed[17:] - mesh_to_68(turned[:, :2])[17:]).max() < 1e-3
    assert np.array_equal(posed[:17], mesh_to_68(mesh[:, :2])[:17])


def test_no_displacement_gives_no_field(user):
    field = displacement_field(user.landmarks, user.landmarks, SIZE, 0.15)
    assert field.shape == (SIZE, SIZE, 2) and field.dtype == np.float32
    assert np.abs(field).max() == 0.0


def test_a_uniform_shift_is_followed_near_the_features_and_fades_far_from_them(user):
    shift = np.array([3.0, -2.0])
    field = displacement_field(user.landmarks, user.landmarks + shift, SIZE, 0.15)
    nose = np.round(user.landmarks[30]).astype(int)
    assert np.allclose(field[nose[1], nose[0]], shift, atol=0.6), field[nose[1], nose[0]]
    far = displacement_field(user.landmarks[INNER] * 0.3, user.landmarks[INNER] * 0.3 + shift, SIZE, 0.1)
    assert np.linalg.norm(far[-1, -1]) < 0.05 * np.linalg.norm(shift)   # corner, away from every landmark


def test_a_failed_mesh_cannot_tear_the_face(user):
    sources = user.landmarks.copy()
    sources[30] += [60.0, 0.0]   # one point far off
    field = displacement_field(user.landmarks, sources, SIZE, 0.15)
    assert np.linalg.norm(field, axis=-1).max() <= MAX_DISPLACEMENT_SHARE * SIZE + 1e-3


@pytest.mark.parametrize("targets, sources, radius, message", [
    (np.zeros((68, 2)), np.zeros((67, 2)), 0.15, r"targets \(68, 2\) and sources \(67, 2\) must both be \(K, 2\)"),
    (np.zeros((68, 3)), np.zeros((68, 3)), 0.15, r"targets \(68, 3\) and sources \(68, 3\) must both be \(K, 2\)"),
    (np.zeros((68, 2, 1)), np.zeros((68, 2, 1)), 0.15, r"targets \(68, 2, 1\) and sources"),
    (np.full((68, 2), np.nan), np.zeros((68, 2)), 0.15, "landmarks must be finite"),
    (np.zeros((68, 2)), np.zeros((68, 2)), 0.0, "the radius must be > 0, not 0.0"),
    (np.zeros((68, 2)), np.zeros((68, 2)), float("nan"), "the radius must be > 0, not nan"),
])
def test_bad_fields_are_clear_errors(targets, sources, radius, message):
    with pytest.raises(ValueError, match=message):
        displacement_field(targets, sources, SIZE, radius)


def test_a_constant_field_shifts_the_face(user):
    field = np.zeros((SIZE, SIZE, 2), np.float32)
    field[..., 0] = 2.0
    out = warp_face(user.crop, field, 1.0)
    assert np.allclose(out[:, :-4], user.crop[:, 2:-2], atol=1e-4)
    assert np.array_equal(warp_face(user.crop, field, 0.0), np.clip(user.crop, 0, 1))


@pytest.mark.parametrize("radius", [0.15, 0.3])
def test_one_landmarks_field_falls_off_as_a_gaussian_of_the_radius(radius):
    """One landmark at the crop's centre moved 3 px: the field there is the move less the ridge's
    share, and it falls off as exp(-d^2 / (2 sigma^2)) with sigma = radius x the crop (within the
    coarse grid's interpolation)."""
    centre = np.array([[47.5, 47.5]])
    field = displacement_field(centre, centre + [3.0, 0.0], SIZE, radius)
    at_centre = field[47:49, 47:49, 0].mean()
    assert 2.3 < at_centre < 3.0 and np.abs(field[..., 1]).max() < 1e-6
    sigma = radius * SIZE
    for distance in (10, 20, 30):
        ratio = field[47:49, 47 + distance:49 + distance, 0].mean() / at_centre
        assert ratio == pytest.approx(np.exp(-0.5 * (distance / sigma) ** 2), abs=0.05), (distance, ratio)
