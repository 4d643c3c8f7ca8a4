"""Colour transfer on real aligned faces: the swapped face takes the original face's colour
statistics inside the mask, and nothing outside the mask influences the result."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.swapping.color_transfer import masked_mean_and_deviation, transfer_color


def _as_float(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32) / 255.0


def _lab_statistics(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return masked_mean_and_deviation(cv2.cvtColor(image, cv2.COLOR_BGR2LAB), mask)


@pytest.fixture(scope="module")
def face_pair(aligned_still):
    """(swapped stand-in, original, mask): two different real people aligned to the same layout."""
    original = aligned_still("s0")
    other = aligned_still("s1")
    return _as_float(other.crop), _as_float(original.crop), original.mask


def test_reinhard_moves_lab_mean_and_deviation_onto_the_original(face_pair):
    swapped, original, mask = face_pair
    before_mean, before_std = _lab_statistics(swapped, mask)
    target_mean, target_std = _lab_statistics(original, mask)
    assert np.abs(before_mean - target_mean).max() > 5.0  # the two faces really differ in colour

    result = transfer_color(swapped, original, mask, "reinhard")

    assert result.dtype == np.float32 and result.shape == swapped.shape
    assert result.min() >= 0.0 and result.max() <= 1.0
    after_mean, after_std = _lab_statistics(result, mask)
    np.testing.assert_allclose(after_mean, target_mean, atol=0.5)
    np.testing.assert_allclose(after_std, target_std, rtol=0.05, atol=0.2)
    assert np.abs(before_std - target_std).max() > 1.0


def test_average_moves_the_mean_colour_and_keeps_the_spread(face_pair):
    swapped, original, mask = face_pair
    target_mean, _ = masked_mean_and_deviation(original, mask)
    _, before_std = masked_mean_and_deviation(swapped, mask)

    result = transfer_color(swapped, original, mask, "average")

    after_mean, after_std = masked_mean_and_deviation(result, mask)
    np.testing.assert_allclose(after_mean, target_mean, atol=0.005)
    np.testing.assert_allclose(after_std, before_std, rtol=0.05)


def test_none_returns_the_model_output_untouched(face_pair):
    swapped, original, mask = face_pair
    assert transfer_color(swapped, original, mask, "none") is swapped


@pytest.mark.parametrize("mode", ["reinhard", "average"])
def test_statistics_come_only_from_inside_the_mask(face_pair, mode):
    swapped, original, mask = face_pair
    outside = mask == 0
    assert outside.sum() > 20  # the mask leaves the crop's lower corners out
    scrambled_original = original.copy()
    scrambled_original[outside] = np.random.default_rng(0).random((int(outside.sum()), 3), dtype=np.float32)
    scrambled_swapped = swapped.copy()
    scrambled_swapped[outside] = 1.0

    reference = transfer_color(swapped, original, mask, mode)
    result = transfer_color(scrambled_swapped, scrambled_original, mask, mode)

    np.testing.assert_allclose(result[~outside], reference[~outside], atol=1e-5)


def test_unknown_mode_is_a_clear_error(face_pair):
    swapped, original, mask = face_pair
    with pytest.raises(InputError, match="unknown colour mode 'sepia'"):
        transfer_color(swapped, original, mask, "sepia")
