"""Blending a face crop back into a real frame: only the face changes; every pixel the warped
mask does not cover keeps its exact value, in both blend modes."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.faces.alignment import invert_matrix, paste_region, transform_points, unalign_to_region
from faceswap.swapping.blending import paste_face
from faceswap.swapping.frame_swapper import crop_border_fade


@pytest.mark.parametrize("mode", ["feather", "poisson"])
def test_paste_changes_the_face_and_nothing_outside_the_mask(aligned_still, mode):
    target = aligned_still("s0")
    donor = aligned_still("s1")
    mask = target.mask * crop_border_fade(target.mask.shape[0], 0.12)
    frame = target.frame.copy()

    region = paste_face(frame, donor.crop.astype(np.float32) / 255.0, mask, target.matrix, mode)

    assert region == paste_region(target.matrix, mask.shape[0], frame.shape)
    x0, y0, x1, y1 = region
    outside_region = np.ones(frame.shape[:2], dtype=bool)
    outside_region[y0:y1, x0:x1] = False
    assert np.array_equal(frame[outside_region], target.frame[outside_region])

    alpha = unalign_to_region(mask, target.matrix, region)
    inside = frame[y0:y1, x0:x1].astype(np.int16)
    before = target.frame[y0:y1, x0:x1].astype(np.int16)
    assert np.array_equal(inside[alpha == 0], before[alpha == 0])
    assert (alpha == 0).sum() > 100
    changed = np.abs(inside - before).max(axis=2)[alpha > 0.9]
    assert changed.mean() > 8  # another person's face is now there


def test_feather_blend_puts_the_crop_where_the_face_was(aligned_still):
    """A crop that IS the original face pasted back reproduces the frame (round trip)."""
    target = aligned_still("s0")
    frame = target.frame.copy()
    mask = target.mask * crop_border_fade(target.mask.shape[0], 0.12)

    paste_face(frame, target.crop.astype(np.float32) / 255.0, mask, target.matrix, "feather")

    x0, y0, x1, y1 = paste_region(target.matrix, mask.shape[0], frame.shape)
    difference = np.abs(frame[y0:y1, x0:x1].astype(np.int16) - target.frame[y0:y1, x0:x1]).mean()
    assert difference < 6  # only resampling blur from the 64 px crop, no shift


def test_unknown_blend_mode_is_a_clear_error(aligned_still):
    target = aligned_still("s0")
    with pytest.raises(InputError, match="unknown blend mode 'smudge'"):
        paste_face(target.frame.copy(), target.crop.astype(np.float32) / 255.0, target.mask, target.matrix, "smudge")


@pytest.mark.parametrize("mode", ["feather", "poisson"])
def test_face_cut_by_the_frame_edge(aligned_still, mode):
    """Only the right half of the face is in the frame: the visible half is blended, nothing fails."""
    target = aligned_still("s0")
    donor = aligned_still("s1")
    centre_x = int(transform_points([[32.0, 32.0]], invert_matrix(target.matrix))[0, 0])
    frame = np.ascontiguousarray(target.frame[:, centre_x:])
    before = frame.copy()
    matrix = target.matrix.copy()
    matrix[:, 2] += matrix[:, 0] * centre_x  # image -> crop for the cut frame
    mask = target.mask * crop_border_fade(target.mask.shape[0], 0.12)

    region = paste_face(frame, donor.crop.astype(np.float32) / 255.0, mask, matrix, mode)

    x0, y0, x1, y1 = region
    assert x0 == 0
    alpha = unalign_to_region(mask, matrix, region)
    changed = np.abs(frame[y0:y1, x0:x1].astype(np.int16) - before[y0:y1, x0:x1]).max(axis=2)
    assert changed[alpha == 0].max() == 0
    assert changed[alpha > 0.9].mean() > 8


def own_pixels(frame: np.ndarray, x: int, y: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The frame's own pixels at (x, y) as a crop (float32 in [0, 1]) and its scale-1 image -> crop matrix."""
    crop = frame[y:y + size, x:x + size].astype(np.float32) / 255.0
    return crop, np.array([[1.0, 0.0, -x], [0.0, 1.0, -y]])


@pytest.mark.parametrize("edge", ["none", "left", "right", "top", "bottom"])
def test_poisson_pasting_a_faces_own_pixels_back_keeps_the_frame(aligned_still, edge):
    """Cloning a face's own gradients onto itself changes nothing, also where the frame edge cuts
    the face: the clone lands on the very pixels it came from, not a pixel beside them."""
    still = aligned_still("s0")
    centre_x, centre_y = transform_points([[32.0, 32.0]], invert_matrix(still.matrix))[0].astype(int)
    x, y = centre_x - 32, centre_y - 32
    crop, _ = own_pixels(still.frame, x, y)
    # Cut the frame 20 px into the crop on one side; the crop keeps the pixels beyond the cut.
    rows, columns = slice(None), slice(None)
    if edge == "left":
        columns = slice(x + 20, None)
    elif edge == "right":
        columns = slice(None, x + 44)
    elif edge == "top":
        rows = slice(y + 20, None)
    elif edge == "bottom":
        rows = slice(None, y + 44)
    frame = np.ascontiguousarray(still.frame[rows, columns])
    left, top = (columns.start or 0), (rows.start or 0)
    matrix = np.array([[1.0, 0.0, -(x - left)], [0.0, 1.0, -(y - top)]])
    before = frame.copy()

    region = paste_face(frame, crop, np.ones((64, 64), np.float32), matrix, "poisson")

    x0, y0, x1, y1 = region
    difference = np.abs(frame[y0:y1, x0:x1].astype(np.int16) - before[y0:y1, x0:x1])
    assert difference.mean() < 1.0 and difference.max() <= 3, (difference.mean(), difference.max())


def test_a_face_or_mask_beyond_zero_to_one_saturates_instead_of_wrapping(aligned_still):
    """A colour-corrected face can overshoot [0, 1] a little; what is pasted is clipped to 0 / 255
    (never wrapped round the 8-bit range), and so is a mask outside [0, 1]."""
    face = aligned_still("s1").crop.astype(np.float32) / 255.0 * 1.6 - 0.3   # about -0.3 .. 1.3
    frame = np.full((120, 120, 3), 128, np.uint8)
    mask = np.zeros((64, 64), np.float32)
    mask[8:40, 8:56] = 1.4            # above 1: the face, fully
    mask[44:60, 8:56] = -0.5          # below 0: the frame, untouched
    matrix = np.array([[1.0, 0.0, -30.0], [0.0, 1.0, -20.0]])

    paste_face(frame, face, mask, matrix)

    pasted = frame[20 + 8:20 + 40, 30 + 8:30 + 56].astype(np.int16)
    source = face[8:40, 8:56]
    assert (source > 1.0).sum() > 50 and (source < 0.0).sum() > 50
    assert (pasted[source >= 1.0] == 255).all()
    assert (pasted[source <= 0.0] == 0).all()
    inside = (source > 0.01) & (source < 0.99)
    np.testing.assert_allclose(pasted[inside], np.floor(source[inside] * 255.0 + 0.5), atol=1)
    assert (frame[20 + 44:20 + 60, 30 + 8:30 + 56] == 128).all()


def test_the_chosen_interpolation_is_the_one_pasted_with(aligned_still):
    """A face enlarged 3x is pasted with the kernel asked for: the bicubic paste matches a bicubic
    enlargement of the crop, the bilinear one a bilinear enlargement, each closer than the other."""
    import cv2

    still = aligned_still("s1")
    face = still.crop.astype(np.float32) / 255.0
    # frame px 30 + d <-> crop px d / 3 - 1 / 3: the pixel-centre mapping of cv2.resize by 3
    matrix = np.array([[1 / 3, 0.0, -31 / 3], [0.0, 1 / 3, -31 / 3]])
    inner = slice(36, 30 + 192 - 6)
    errors = {}
    for interpolation in ("linear", "cubic"):
        frame = np.zeros((260, 260, 3), np.uint8)
        paste_face(frame, face, np.ones((64, 64), np.float32), matrix, interpolation=interpolation)
        for kernel, flag in (("linear", cv2.INTER_LINEAR), ("cubic", cv2.INTER_CUBIC)):
            enlarged = cv2.resize(still.crop, (192, 192), interpolation=flag)[6:-6, 6:-6]
            errors[interpolation, kernel] = np.abs(frame[inner, inner].astype(np.float32) - enlarged).mean()
    assert errors["cubic", "cubic"] < 0.8 * errors["cubic", "linear"], errors
    assert errors["linear", "linear"] < 0.8 * errors["linear", "cubic"], errors
