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
