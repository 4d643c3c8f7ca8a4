"""Colour transfer to the number: the L*a*b* -> sRGB inverse against OpenCV and CIE's definition
(dark colours included), the mean-colour shift's clipping and dtype, Reinhard on a flat face
(mutation survivors, docs/testing.md)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.swapping.color_transfer import (hue_flip_share, lab_to_bgr_unclipped, lightness_to_grey, linear_to_srgb,
                                              masked_mean_and_deviation, project_into_gamut, srgb_to_linear,
                                              statistics_mask, transfer_color)


def _cie_grey(lightness: float) -> float:
    """sRGB value (IEC 61966-2-1) of the grey of CIE 1976 lightness L*: Y = L*/kappa up to L* = 8
    (kappa = 903.3), ((L* + 16) / 116)^3 above."""
    luminance = lightness / 903.3 if lightness <= 8.0 else ((lightness + 16.0) / 116.0) ** 3
    return 12.92 * luminance if luminance <= 0.0031308 else 1.055 * luminance ** (1.0 / 2.4) - 0.055


def test_lab_to_bgr_inverts_opencvs_lab_for_every_colour():
    """Every BGR colour on a grid (dark ones in 0.005 steps) back from OpenCV's float L*a*b*, to
    OpenCV's own precision (its float conversion is good to ~0.004)."""
    values = np.concatenate([np.linspace(0.0, 0.04, 9), np.linspace(0.05, 1.0, 20)])
    bgr = np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1).reshape(-1, 1, 3).astype(np.float32)
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)
    back = lab_to_bgr_unclipped(lab)
    assert back.dtype == np.float32 and back.shape == bgr.shape
    assert np.abs(back - bgr).max() < 0.005


@pytest.mark.parametrize("lightness", [0.5, 2.0, 4.0, 7.9, 8.5, 9.5, 12.0, 30.0, 50.0, 70.0, 99.0])
def test_greys_have_the_cie_lightness(lightness):
    """A grey (a* = b* = 0) of lightness L* comes out as CIE's grey, through the dark linear
    segment (L* <= 8) as well as the cube."""
    expected = _cie_grey(lightness)
    grey = lightness_to_grey(np.array([[lightness]], dtype=np.float32))
    assert grey.dtype == np.float32 and grey.shape == (1, 1)
    assert float(grey[0, 0]) == pytest.approx(expected, abs=2e-5)
    bgr = lab_to_bgr_unclipped(np.array([[[lightness, 0.0, 0.0]]], dtype=np.float32))
    np.testing.assert_allclose(bgr[0, 0], [expected] * 3, atol=2e-5)


def test_lab_outside_srgb_comes_out_outside_zero_one():
    """A red more saturated than sRGB can show: red above 1, green below 0, not clipped."""
    bgr = lab_to_bgr_unclipped(np.array([[[50.0, 110.0, 60.0]]], dtype=np.float32))[0, 0]
    assert bgr[2] > 1.0 and bgr[1] < 0.0


@pytest.fixture(scope="module")
def two_faces(aligned_still):
    original, other = aligned_still("s0"), aligned_still("s1")
    as_float = lambda crop: crop.astype(np.float32) / 255.0   # noqa: E731
    return as_float(other.crop), as_float(original.crop), statistics_mask(original.landmarks, original.mask)


@pytest.mark.parametrize("light, bound", [(0.15, 0.0), (2.5, 1.0)])
def test_average_shift_is_clipped_to_zero_one_and_stays_float32(two_faces, light, bound):
    """Onto a much darker / brighter original, the shifted face is clipped at 0 / 1."""
    swapped, original, mask = two_faces
    result = transfer_color(swapped, np.clip(original * light, 0.0, 1.0), mask, "average")
    assert result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0
    assert (result == bound).mean() > 0.01


def test_reinhard_gives_a_flat_face_the_originals_mean_colour(two_faces):
    """A face without spread in a channel (a flat colour) cannot be rescaled: it is moved onto the
    original's mean and stays flat, no NaN."""
    _, original, mask = two_faces
    flat = np.full_like(original, 0.5)
    result = transfer_color(flat, original, mask, "reinhard")
    assert np.isfinite(result).all()
    lab_mean, _ = masked_mean_and_deviation(cv2.cvtColor(original, cv2.COLOR_BGR2LAB), mask)
    result_lab = cv2.cvtColor(result, cv2.COLOR_BGR2LAB)
    np.testing.assert_allclose(result_lab[mask > 0.5].mean(axis=0), lab_mean, atol=0.5)
    assert result_lab[mask > 0.5].std(axis=0).max() < 0.05


@pytest.mark.parametrize("value", [0.0, 0.01, 0.04, 0.04045, 0.05, 0.2, 0.5, 1.0])
def test_srgb_to_linear_is_iec_61966(value):
    """The linear segment up to 0.04045, the 2.4 power above, float32 whatever comes in."""
    expected = value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
    result = srgb_to_linear(np.array([value], dtype=np.float64))
    assert result.dtype == np.float32
    assert float(result[0]) == pytest.approx(expected, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("value", [0.0, 0.001, 0.003, 0.0031308, 0.004, 0.05, 0.2, 1.0])
def test_linear_to_srgb_is_iec_61966_and_keeps_the_sign(value):
    expected = 12.92 * value if value <= 0.0031308 else 1.055 * value ** (1.0 / 2.4) - 0.055
    result = linear_to_srgb(np.array([value, -value], dtype=np.float32))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, [expected, -expected], rtol=1e-5, atol=1e-9)


def _bgr_of_lab(lab_colours) -> np.ndarray:
    lab = np.array([lab_colours], dtype=np.float32)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), 0.0, 1.0)


def test_hue_flip_share_counts_visible_colours_opposite_the_references_mean():
    """Against a skin colour (a* 15, b* 20): its own hue and grey never count, the opposite hue
    does from a chroma of 5 (about two just-noticeable differences), and only where the mask is
    over one half."""
    reference = _bgr_of_lab([(60.0, 15.0, 20.0)] * 16).reshape(4, 4, 3)
    colours = ([(60.0, 15.0, 20.0)] * 4 + [(60.0, -12.0, -16.0)] * 4 + [(60.0, -3.6, -4.8)] * 2   # chroma 20 and 6
               + [(60.0, 0.0, 0.0)] * 2 + [(60.0, -12.0, -16.0)] * 2   # grey; masked at one half
               + [(60.0, -2.4, -3.2)] * 2)                               # chroma 4
    image = _bgr_of_lab(colours).reshape(4, 4, 3)
    mask = np.ones((4, 4), np.float32)
    mask.reshape(-1)[12:14] = 0.5
    assert hue_flip_share(image, reference, mask) == pytest.approx(6 / 14)
    assert hue_flip_share(image, reference, mask, min_chroma=10.0) == pytest.approx(4 / 14)
    assert hue_flip_share(image, reference, np.zeros((4, 4), np.float32)) == 0.0
    grey = np.full((4, 4, 3), 0.5, np.float32)   # a* = b* = 0 exactly in OpenCV's L*a*b*
    assert hue_flip_share(image, grey, mask) == 0.0   # a reference without colour: no hue to flip from


def test_hue_flip_share_reads_uint8_and_clips_floats_as_they_would_be_written(two_faces):
    swapped, original, mask = two_faces
    as_uint8 = lambda picture: np.round(np.clip(picture, 0.0, 1.0) * 255.0).astype(np.uint8)   # noqa: E731
    shifted = swapped[..., ::-1] * np.float32(1.6) - np.float32(0.2)   # bluish skin, far outside [0, 1] both ways
    share = hue_flip_share(shifted, original, mask, min_chroma=2.0)
    assert 0.0 < share < 1.0
    assert share == hue_flip_share(np.clip(shifted, 0.0, 1.0), original, mask, min_chroma=2.0)
    assert hue_flip_share(as_uint8(shifted), as_uint8(original), mask, min_chroma=2.0) == pytest.approx(share, abs=0.01)
    for min_chroma in np.arange(2.0, 30.0, 0.5):   # uint8 is read as value / 255, to the pixel
        assert (hue_flip_share(as_uint8(shifted), original, mask, min_chroma=min_chroma)
                == hue_flip_share(as_uint8(shifted).astype(np.float32) / np.float32(255.0), original, mask,
                                  min_chroma=min_chroma))


def _linear_skin_mean(image, mask):
    mean, _ = masked_mean_and_deviation(srgb_to_linear(image), mask)
    return mean


def test_illuminant_gains_are_kept_within_1_256_and_256(two_faces):
    """A black statistic must not explode: onto an original far darker the face is dimmed 256x at
    most (per channel: a flat 1.5/255, which does not round to 0; and as one exposure gain: an
    original that rounds to black), and a face 300x too dark is brightened 256x at most (per
    channel, and as one exposure gain when the original's skin is clipped)."""
    swapped, original, mask = two_faces
    for darker in (np.full_like(original, 1.5 / 255.0), original * np.float32(0.001)):
        dimmed = transfer_color(swapped, darker, mask)
        # (the shadows' toe lifts these near-black values by up to a fifth)
        np.testing.assert_allclose(_linear_skin_mean(dimmed, mask), _linear_skin_mean(swapped, mask) / 256.0,
                                   rtol=0.35)
    dark = swapped * np.float32(1.0 / 300.0)
    overexposed = original.copy()
    overexposed[mask > 0.5] = 1.0   # all of the skin clipped white: one exposure gain
    for light in (original, overexposed):
        brightened = transfer_color(dark, light, mask)
        np.testing.assert_allclose(_linear_skin_mean(brightened, mask), _linear_skin_mean(dark, mask) * 256.0, rtol=0.1)


@pytest.mark.parametrize("step", [2, 3])
def test_with_half_the_skin_clipped_one_exposure_gain_lights_all_channels(two_faces, step):
    """The original's skin half or more clipped (black): its colour is not trusted, the swapped
    face only takes its exposure, every channel by the same gain (the ratio of skin luminances)."""
    swapped, original, mask = two_faces
    clipped = np.zeros_like(original)
    skin = np.argwhere(mask > 0.5)
    kept = tuple(skin[::step].T)
    clipped[kept] = original[kept]   # 1 of 2 or 1 of 3 skin pixels kept, the rest black
    result = transfer_color(swapped, clipped, mask)
    ratios = _linear_skin_mean(result, mask) / _linear_skin_mean(swapped, mask)
    luminance = np.array([0.0722, 0.7152, 0.2126])
    exposure = (_linear_skin_mean(clipped, mask) @ luminance) / (_linear_skin_mean(swapped, mask) @ luminance)
    np.testing.assert_allclose(ratios, [exposure] * 3, rtol=0.02)
    per_channel = _linear_skin_mean(clipped, mask) / _linear_skin_mean(swapped, mask)
    assert np.ptp(per_channel) > 0.1 * exposure   # the per-channel gains would differ


def test_with_a_quarter_of_the_skin_clipped_the_colour_is_trusted_half(two_faces):
    """Between no clipping (per-channel gains) and half the skin clipped (one exposure gain): at a
    quarter, each channel's gain lies half-way (geometrically) between its own and the exposure's."""
    swapped, original, mask = two_faces
    partly = original.copy()
    skin = np.argwhere(mask > 0.5)
    partly[tuple(skin[::4].T)] = 0.0   # a quarter of the skin black
    result = transfer_color(swapped, partly, mask)
    before, target = _linear_skin_mean(swapped, mask), _linear_skin_mean(partly, mask)
    luminance = np.array([0.0722, 0.7152, 0.2126])
    exposure = (target @ luminance) / (before @ luminance)
    expected = exposure * np.sqrt((target / before) / exposure)
    np.testing.assert_allclose(_linear_skin_mean(result, mask) / before, expected, rtol=0.02)


def test_statistics_mask_falls_back_to_the_face_mask_without_enough_skin(aligned_still):
    """Skin counts only where the face mask is over one half; under 3 % of the crop left (a face
    mask at one half everywhere, or one covering a small patch), the face mask itself is used."""
    face = aligned_still("s0")
    half = np.full_like(face.mask, 0.5)
    assert statistics_mask(face.landmarks, half) is half
    patch = np.zeros_like(face.mask)
    centre = np.round(face.landmarks[30]).astype(int)   # the nose tip: bare skin
    patch[centre[1] - 3: centre[1] + 3, centre[0] - 3: centre[0] + 3] = 1.0   # 36 px, under 3 % of 64 x 64
    assert statistics_mask(face.landmarks, patch) is patch
    assert statistics_mask(face.landmarks, face.mask) is not face.mask   # a whole face: its bare skin


def test_bad_shapes_and_modes_are_clear_errors(two_faces):
    from faceswap.errors import InputError

    swapped, original, mask = two_faces
    with pytest.raises(ValueError, match=r"shapes do not match: swapped \(64, 64, 3\), original \(64, 64, 3\), "
                                         r"mask \(32, 32\)"):
        transfer_color(swapped, original, mask[:32, :32])
    with pytest.raises(ValueError, match="shapes do not match"):
        transfer_color(swapped, original[:32], mask)
    with pytest.raises(InputError, match="expected one of illuminant, reinhard, average, none$"):
        transfer_color(swapped, original, mask, "sepia")


def test_projection_into_gamut_moves_only_what_is_outside_and_keeps_its_hue():
    """project_into_gamut: colours inside [1/255, 254/255] (however saturated) come back bit for bit;
    a red pushed past 1 lands on the border of that box (no further), on its line to its grey (the
    HSV hue kept), not clipped flat."""
    inside = np.array([[[0.05, 0.10, 0.97], [0.5, 0.5, 0.5], [0.99, 0.2, 0.01]]], np.float32)
    outside = np.array([[[0.30, 0.35, 1.40], [-0.2, 0.4, 0.6]]], np.float32)
    grey = lambda bgr: (bgr @ np.array([0.0722, 0.7152, 0.2126], np.float32))[..., None].clip(0, 1)
    assert np.array_equal(project_into_gamut(inside, grey(inside)), inside)
    result = project_into_gamut(outside, grey(outside))
    assert result.min() >= 1.0 / 255.0 - 1e-6 and result.max() <= 254.0 / 255.0 + 1e-6
    on_border = (np.abs(result.max(axis=2) - 254.0 / 255.0) < 1e-5) | (np.abs(result.min(axis=2) - 1.0 / 255.0) < 1e-5)
    assert on_border.all()                                        # moved just far enough, not to grey
    halfway = (grey(outside) + (outside - grey(outside)) * 0.5).astype(np.float32)   # inside, on the same line
    hue = lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[..., 0].astype(np.float32)   # float: degrees
    np.testing.assert_allclose(hue(result), hue(halfway), atol=0.5)
    assert np.all(np.abs(result - np.clip(outside, 0.0, 1.0)).max(axis=2) > 0.01)        # not a per-channel clip
