"""Gaze: the swapped face's irises moved to where the user's eyes look (faceswap/swapping/gaze.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.faces.iris import EYE_CORNERS, gazes
from faceswap.swapping.gaze import (EYE_CORNERS_68, IRIS_EVERY, MAX_SHIFT, compose_fields, frame_gaze_field,
                                    gaze_field, gaze_shifts, irises_in_eyes, reads_irises)
from faceswap.swapping.landmark_warp import warp_face

SIZE = 96


def _mesh(eyes):
    """A (468, 2) mesh with only the eyes' corners set: eyes = ((left, right), (left, right))."""
    mesh = np.zeros((468, 2))
    for (left, right, _), corners in zip(EYE_CORNERS, eyes):
        mesh[left], mesh[right] = corners
    return mesh


def _iris(centre, radius=4.0):
    centre = np.asarray(centre, dtype=np.float64)
    return np.vstack([centre] + [centre + radius * np.array(d) for d in ((1, 0), (0, 1), (-1, 0), (0, -1))])


EYES = (((24.0, 40.0), (44.0, 40.0)), ((52.0, 40.0), (72.0, 40.0)))


def test_the_shift_is_the_share_of_the_difference_along_the_eye_capped_and_none_without_an_iris():
    mesh = _mesh(EYES)
    user = [_iris((36.0, 41.0)), _iris((60.0, 39.0))]        # along 0.6 and 0.4
    swapped = [_iris((30.0, 40.0)), None]                      # along 0.3; the other eye not found
    user, swapped = irises_in_eyes(user, mesh), irises_in_eyes(swapped, mesh)
    assert swapped[1] is None
    np.testing.assert_allclose(user[0][0], [0.6, 0.05])
    assert gaze_shifts(user, swapped, 1.0) == pytest.approx([0.3, None])
    assert gaze_shifts(user, swapped, 0.5) == pytest.approx([0.15, None])
    far = [_iris((43.0, 40.0)), _iris((53.0, 40.0))]           # along 0.95 and 0.05
    near = [_iris((25.0, 40.0)), _iris((71.0, 40.0))]          # along 0.05 and 0.95
    assert gaze_shifts(irises_in_eyes(far, mesh), irises_in_eyes(near, mesh), 1.0) == pytest.approx([MAX_SHIFT, -MAX_SHIFT])


def _disc_image(centres, radius=4.0):
    image = np.full((SIZE, SIZE, 3), 0.8, dtype=np.float32)
    for centre in centres:
        cv2.circle(image, tuple(int(round(v)) for v in centre), int(radius), (0.1, 0.1, 0.1), -1, cv2.LINE_AA)
    return cv2.GaussianBlur(image, (0, 0), 0.8)


def _dark_centroid(image, box):
    x0, x1 = box
    darkness = np.clip(0.8 - image[:, x0:x1, 0], 0, None)
    ys, xs = np.mgrid[0:SIZE, x0:x1]
    return np.array([(darkness * xs).sum(), (darkness * ys).sum()]) / darkness.sum()


def test_the_field_moves_the_iris_along_its_eye_and_leaves_the_corners():
    """An iris drawn at 0.4 of a 20 px eye, moved 0.15 eye widths: it lands ~3 px on (the
    regularised fit gives ~0.85 of it), the other eye and the corners stay."""
    mesh = _mesh(EYES)
    irises = [_iris((32.0, 40.0)), _iris((62.0, 40.0))]
    face = _disc_image([iris[0] for iris in irises])
    corners68 = np.zeros((68, 2))
    for (left68, right68), corners in zip(EYE_CORNERS_68, EYES):
        corners68[left68], corners68[right68] = corners
    field = gaze_field(corners68, irises_in_eyes(irises, mesh), [0.15, None], SIZE)
    moved = warp_face(face, field, 1.0)
    first = _dark_centroid(moved, (20, 48)) - _dark_centroid(face, (20, 48))
    second = _dark_centroid(moved, (48, 76)) - _dark_centroid(face, (48, 76))
    assert 2.3 < first[0] < 3.2 and abs(first[1]) < 0.3, first
    assert np.abs(second).max() < 0.3, second
    for corners in EYES:
        for x, y in corners:
            assert np.abs(field[int(y), int(x)]).max() < 0.5
    assert gaze_field(corners68, irises_in_eyes(irises, mesh), [None, None], SIZE) is None


def test_on_video_the_irises_are_read_on_one_frame_in_iris_every_and_the_shift_is_smoothed():
    """Between readings the track's last ones are used (they sit in the eyes' own frames, so they
    follow the warped corners); each frame's shift moves ``smoothing`` of the way to the new one;
    another key (model, direction) starts afresh."""
    mesh = _mesh(EYES)
    corners68 = np.zeros((68, 2))
    for (left68, right68), corners in zip(EYE_CORNERS_68, EYES):
        corners68[left68], corners68[right68] = corners
    user = [_iris((36.0, 40.0)), _iris((62.0, 40.0))]        # along 0.6, 0.5
    swapped = [_iris((32.0, 40.0)), _iris((62.0, 40.0))]     # along 0.4, 0.5
    state: dict = {}
    assert reads_irises(state, "model")
    first = frame_gaze_field(state, "model", 1.0, 0.5, corners68, (user, mesh, swapped, mesh), SIZE)
    assert first is not None and state["gaze"][4] == pytest.approx([0.2, 0.0])
    read = [reads_irises(state, "model")]
    for _ in range(IRIS_EVERY - 1):
        # the corners moved 3 px down and right: the kept readings put the iris's field there too
        moved = frame_gaze_field(state, "model", 1.0, 0.5, corners68 + 3.0, None, SIZE)
        peak, moved_peak = (np.unravel_index(np.argmax(np.abs(field[..., 0])), field.shape[:2]) for field in (first, moved))
        assert (moved_peak[0] - peak[0], moved_peak[1] - peak[1]) == (3, 3)
        read.append(reads_irises(state, "model"))
    assert read == [False] * (IRIS_EVERY - 1) + [True]
    # a new reading with the user looking the other way: half of the way there
    looking = [_iris((30.0, 40.0)), _iris((62.0, 40.0))]     # along 0.3: shift -0.1
    frame_gaze_field(state, "model", 1.0, 0.5, corners68, (looking, mesh, swapped, mesh), SIZE)
    assert state["gaze"][4][0] == pytest.approx(0.5 * (0.2 + -0.1))
    # a blink: the user's first eye not read; its shift is kept, not dropped to 0 (no jump on opening)
    frame_gaze_field(state, "model", 1.0, 0.5, corners68, ([None, looking[1]], mesh, swapped, mesh), SIZE)
    assert state["gaze"][4][0] == pytest.approx(0.05)
    assert reads_irises(state, "another model")
    assert frame_gaze_field({}, "model", 1.0, 0.5, corners68, None, SIZE) is None


def test_one_composed_field_warps_as_the_two_warps_in_turn():
    """Warping by 0.8 x ``first`` and then by ``then`` equals one warp by the composed field, to the
    error of resampling twice (~0.009 on a textured face); the plain sum of the two fields, or the
    composition the other way round, is ~5x further off, and leaving ``then`` out further still."""
    rng = np.random.default_rng(2)
    face = cv2.GaussianBlur(rng.uniform(0, 1, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), 1.5)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    first = np.stack([2.5 * np.sin(xx / 7), 1.5 * np.cos(yy / 9 + xx / 11)], axis=-1).astype(np.float32)
    then = np.stack([3.0 * np.exp(-((xx - 48) ** 2 + (yy - 48) ** 2) / 150),
                     1.0 * np.exp(-((xx - 40) ** 2 + (yy - 55) ** 2) / 150)], axis=-1).astype(np.float32)
    in_turn = warp_face(warp_face(face, first, 0.8), then, 1.0)
    inner = (slice(10, -10), slice(10, -10))

    def error(field):
        return float(np.abs(in_turn[inner] - warp_face(face, field, 1.0)[inner]).max())

    composed = error(compose_fields(first, 0.8, then))
    other_way = cv2.remap(then, xx + 0.8 * first[..., 0], yy + 0.8 * first[..., 1],
                          cv2.INTER_LINEAR) + 0.8 * first
    assert composed < 0.02
    assert error(then + 0.8 * first) > 0.03 and error(other_way) > 0.03 and error(0.8 * first) > 0.1
    np.testing.assert_allclose(compose_fields(first, 0.8, None), 0.8 * first, rtol=1e-6)


@pytest.fixture(scope="module")
def v26_frames(shared_data, face_detector):
    """v26 (faces/videos, never trained on) frames 0-5: a face looking into the camera."""
    from faceswap.conversion.video_io import read_frames

    frames = []
    for index, frame in enumerate(read_frames(shared_data / "faces" / "videos" / "v26.mp4")):
        if index == 6:
            break
        frames.append(frame)
    return frames


def test_the_shipped_models_cross_eyed_irises_are_moved_to_the_users_gaze(v26_frames, face_detector):
    """The default model draws v26's irises ~0.1-0.15 eye widths nearer the nose than hers; with
    ``gaze`` 1 the merged face's irises read much nearer her own (the iris model on the frames:
    0.116 -> 0.035 eye widths on average)."""
    from pathlib import Path

    from faceswap.faces.smoothing import LandmarkSmoother
    from faceswap.model.runtime import load_swap_model
    from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings

    model = load_swap_model(Path(__file__).resolve().parents[3] / "models" / "default")
    errors = {}
    for share in (0.0, 1.0):
        swapper = FrameSwapper(model, face_detector, SwapSettings(mark=False, gaze=share))
        smoother, found = LandmarkSmoother(), []
        for step, frame in enumerate(v26_frames):
            output = swapper.swap_frame(frame, "a2b", smoother, timestamp_s=step / 25).frame
            if step < 2:
                continue   # the warp's smoothing settles
            users = gazes(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), face_detector.detect(frame)[0].mesh)
            swaps = gazes(cv2.cvtColor(output, cv2.COLOR_BGR2RGB), face_detector.detect(output)[0].mesh)
            found += [abs(swap[0] - user[0]) for user, swap in zip(users, swaps) if user is not None and swap is not None]
        assert len(found) >= 6
        errors[share] = float(np.mean(found))
    assert errors[0.0] > 0.08 and errors[1.0] < 0.5 * errors[0.0], errors
