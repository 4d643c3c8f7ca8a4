"""Pasting a face back (faceswap/swapping/blending.py): the feather blend is alpha x face +
(1 - alpha) x frame to the 8-bit level; poisson blending, gradient-domain cloning (Perez et al.,
SIGGRAPH 2003), takes its colours from the frame at the mask's edge, also for a face the frame
edge cuts; the feathered alpha still leaves everything outside the mask alone. Synthetic frame,
crop and mask so the expected result is known."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.swapping.blending import paste_face

SIZE = 64


def gradient_frame(height: int = 200, width: int = 240) -> np.ndarray:
    """A smooth colour ramp: what a flat face cloned into it must turn into."""
    ys, xs = np.mgrid[:height, :width].astype(np.float32)
    return np.clip(np.stack([40 + xs * 0.5, 60 + ys * 0.6, 200 - xs * 0.3], axis=2), 0, 255).astype(np.uint8)


def disc_mask(radius: float = 22.0) -> np.ndarray:
    ys, xs = np.mgrid[:SIZE, :SIZE].astype(np.float32) + 0.5
    distance = np.hypot(xs - SIZE / 2, ys - SIZE / 2)
    return np.clip((radius - distance) / 4.0, 0.0, 1.0).astype(np.float32)


def crop_matrix(x: float, y: float) -> np.ndarray:
    """image -> crop: the crop's (0, 0) at frame pixel (x, y), scale 1."""
    return np.array([[1.0, 0.0, -x], [0.0, 1.0, -y]])


def blended(mode: str, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    frame = gradient_frame()
    original = frame.copy()
    flat_face = np.full((SIZE, SIZE, 3), (0.9, 0.1, 0.5), np.float32)   # far from the ramp's colours
    assert paste_face(frame, flat_face, disc_mask(), crop_matrix(x, y), mode) is not None
    return frame, original


def test_a_flat_face_takes_the_frames_shading_and_the_rest_stays():
    poisson, original = blended("poisson", 80, 60)
    feather, _ = blended("feather", 80, 60)
    centre = (slice(60 + 24, 60 + 40), slice(80 + 24, 80 + 40))
    difference = np.abs(poisson.astype(np.int16) - original)
    # Cloning a face without gradients into a linear ramp reproduces the ramp (the harmonic fill).
    assert difference[centre].mean() < 6, difference[centre].mean()
    assert np.abs(feather.astype(np.int16) - original)[centre].mean() > 60    # the plain blend pastes the colour
    outside = np.ones(original.shape[:2], bool)
    outside[60:60 + SIZE, 80:80 + SIZE] = False
    assert (poisson[outside] == original[outside]).all()


@pytest.mark.parametrize("x,y,rows,columns", [
    (-20, 70, (96, 108), (0, 14)),            # cut by the left edge
    (240 - 44, 70, (96, 108), (226, 240)),    # right
    (100, -20, (0, 14), (126, 138)),          # top
    (100, 200 - 44, (186, 200), (126, 138)),  # bottom
])
def test_a_face_cut_by_the_frame_edge_is_still_cloned(x, y, rows, columns):
    poisson, original = blended("poisson", x, y)
    feather, _ = blended("feather", x, y)
    inside = (slice(*rows), slice(*columns))
    assert np.abs(poisson.astype(np.int16) - original)[inside].mean() < 10
    assert np.abs(poisson.astype(np.int16) - feather)[inside].mean() > 40


def test_the_feather_blend_is_alpha_face_plus_one_minus_alpha_frame_to_the_level():
    frame = np.full((120, 120, 3), 40, np.uint8)
    face = np.empty((SIZE, SIZE, 3), np.float32)
    face[...] = (0.6, 0.0, 1.0)                    # 153, 0, 255 in 8 bits (0.6 x 255 = 153.0)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[16:48, 16:48] = 1.0
    mask[16:48, 8:16] = 0.5
    region = paste_face(frame, face, mask, crop_matrix(30, 20))   # "feather" is the default mode
    x0, y0, x1, y1 = region   # the crop's rectangle with a margin for the warp
    assert x0 <= 30 and y0 <= 20 and x1 >= 30 + SIZE and y1 >= 20 + SIZE
    np.testing.assert_array_equal(frame[20 + 32, 30 + 32], [153, 0, 255])
    # Half alpha: half-way between the frame (40) and the face, rounded.
    np.testing.assert_allclose(frame[20 + 32, 30 + 12].astype(float), [(153 + 40) / 2, 40 / 2, (255 + 40) / 2],
                               atol=0.51)
    assert (frame[20 + 32, 30 + 2] == 40).all() and (frame[:20] == 40).all()
    assert paste_face(frame, face, mask, crop_matrix(500, 500)) is None      # wholly outside: nothing
    with pytest.raises(InputError) as raised:
        paste_face(frame, face, mask, crop_matrix(30, 20), "smudge")
    assert str(raised.value) == "unknown blend mode 'smudge': expected one of feather, poisson"
    with pytest.raises(ValueError) as raised:
        paste_face(frame, face, mask[:32], crop_matrix(30, 20))
    assert str(raised.value) == "face crop (64, 64, 3) and mask (32, 64) differ in size"


def test_the_mask_is_rounded_to_the_nearest_8_bit_alpha():
    """White face over a black frame: each pixel becomes the mask value x 255, rounded."""
    frame = np.zeros((100, 100, 3), np.uint8)
    face = np.ones((SIZE, SIZE, 3), np.float32)
    ramp = np.linspace(0.0, 1.0, 48, dtype=np.float32)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[8:56, 8:56] = ramp[np.newaxis, :]
    paste_face(frame, face, mask, crop_matrix(10, 10))
    expected = np.floor(ramp * 255.0 + 0.5)
    np.testing.assert_array_equal(frame[10 + 30, 10 + 8:10 + 56, 1], expected)


@pytest.mark.parametrize("x,y", [(-200, 20), (300, 20), (20, -200), (20, 300)])
def test_a_face_beside_the_frame_touches_nothing(x, y):
    """Level with the frame but wholly left / right / above / below it: nothing to paste."""
    frame = gradient_frame()
    original = frame.copy()
    face = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    for mode in ("feather", "poisson"):
        assert paste_face(frame, face, disc_mask(), crop_matrix(x, y), mode) is None
    assert np.array_equal(frame, original)


@pytest.mark.parametrize("width,height", [(2, 20), (20, 2)])
def test_poisson_leaves_a_mask_under_3_px_across_as_the_frame_was(width, height):
    """seamlessClone cannot clone a sliver under 3 px across: poisson mode leaves the frame as it
    was there (rather than failing or pasting the face's colours unblended)."""
    frame = gradient_frame()
    original = frame.copy()
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[20:20 + height, 20:20 + width] = 1.0
    flat_face = np.full((SIZE, SIZE, 3), (0.9, 0.1, 0.5), np.float32)
    assert paste_face(frame, flat_face, mask, crop_matrix(80, 60), "poisson") is not None
    assert np.array_equal(frame, original)
