"""Colour transfer on real aligned faces: the swapped face takes the original face's light from
its skin only, and on the faces real users send (../shared/data/cases: overexposed, red stage
light, very dark) the default never flips the hue of skin nor clips more than the input clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.faces.masks import skin_mask
from faceswap.swapping.color_transfer import (COLOR_MODES, _channel_max, _channel_min, _gamut_reach, _scale_channels,
                                              clipped_share, hue_flip_share, linear_to_srgb,
                                              masked_mean_and_deviation, srgb_to_linear, statistics_mask,
                                              transfer_color)

CASES = ["overexposed_face", "red_stage_light", "very_dark_face"]
# Real faces of other people stand in for the model's output (a normally lit face of someone else).
DONORS = ["s0", "s1", "s3", "s4", "s5", "s8", "s9", "s10", "s12"]


def _as_float(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def face_pair(aligned_still):
    """(swapped stand-in, original, statistics mask): two different real people in the same layout."""
    original = aligned_still("s0")
    other = aligned_still("s1")
    return _as_float(other.crop), _as_float(original.crop), statistics_mask(original.landmarks, original.mask)


def test_statistics_mask_is_bare_skin(aligned_still):
    face = aligned_still("s0")
    mask = statistics_mask(face.landmarks, face.mask)
    at = lambda point: mask[int(round(point[1])), int(round(point[0]))]
    points = face.landmarks
    assert at(points[30]) == 1.0                                        # nose tip
    assert at((points[41] + points[48]) / 2) == 1.0                     # a cheek
    for feature in (37, 44, 19, 24, 62, 66):                            # eyes, brows, mouth interior
        assert at(points[feature]) == 0.0, feature
    assert 0.2 < mask.mean() < 0.8


def test_illuminant_gives_the_swapped_face_the_originals_mean_light(face_pair):
    swapped, original, mask = face_pair
    before, _ = masked_mean_and_deviation(srgb_to_linear(swapped), mask)
    target, _ = masked_mean_and_deviation(srgb_to_linear(original), mask)
    assert np.abs(before - target).max() > 0.02  # the two faces really differ in colour

    result = transfer_color(swapped, original, mask)

    assert result.dtype == np.float32 and result.shape == swapped.shape
    assert result.min() >= 0.0 and result.max() <= 1.0
    after, _ = masked_mean_and_deviation(srgb_to_linear(result), mask)
    np.testing.assert_allclose(after, target, rtol=0.03, atol=0.003)


def test_reinhard_moves_lab_mean_and_deviation_onto_the_original(face_pair):
    swapped, original, mask = face_pair
    lab = lambda image: masked_mean_and_deviation(cv2.cvtColor(image, cv2.COLOR_BGR2LAB), mask)
    target_mean, target_std = lab(original)

    after_mean, after_std = lab(transfer_color(swapped, original, mask, "reinhard"))

    np.testing.assert_allclose(after_mean, target_mean, atol=1.0)
    np.testing.assert_allclose(after_std, target_std, rtol=0.1, atol=0.5)


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


@pytest.mark.parametrize("mode", ["illuminant", "reinhard", "average"])
def test_statistics_come_only_from_the_skin(face_pair, mode):
    """Eyes, brows, mouth, hair and background of either face do not move the result."""
    swapped, original, mask = face_pair
    elsewhere = mask == 0
    assert elsewhere.sum() > 500
    scrambled_original = original.copy()
    scrambled_original[elsewhere] = np.random.default_rng(0).random((int(elsewhere.sum()), 3), dtype=np.float32)
    scrambled_swapped = swapped.copy()
    scrambled_swapped[elsewhere] = 1.0

    reference = transfer_color(swapped, original, mask, mode)
    result = transfer_color(scrambled_swapped, scrambled_original, mask, mode)

    skin = mask > 0
    np.testing.assert_allclose(result[skin], reference[skin], atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_default_never_flips_skin_hue_nor_clips_more_than_the_input(aligned_case, aligned_still, case):
    """The issue-8 bounds: share of skin pixels whose hue turns > 90 degrees from the face's own
    colour: 0 points over the input; share clipped (a channel at 0 or 255): at most the input's
    + 1 point. Skin = bare skin of both the case and the stand-in face."""
    original = aligned_case(case)
    statistics = statistics_mask(original.landmarks, original.mask)
    for donor_name in DONORS:
        donor = aligned_still(donor_name)
        skin = statistics * statistics_mask(donor.landmarks, donor.mask)
        assert skin.sum() > 800
        input_crop = _as_float(original.crop)

        result = transfer_color(_as_float(donor.crop), input_crop, statistics)

        flips = hue_flip_share(result, input_crop, skin) - hue_flip_share(input_crop, input_crop, skin)
        clipped = clipped_share(result, skin) - clipped_share(input_crop, skin)
        assert flips <= 0.0, f"{case} with {donor_name}: {flips:.1%} more skin with a flipped hue"
        assert clipped <= 0.01, f"{case} with {donor_name}: {clipped:.1%} more skin clipped"


def test_the_measures_see_what_the_old_per_channel_transfer_did_wrong(aligned_case, aligned_still):
    """The bounds can fail: a per-channel L*a*b* shift without the gamut handling (the old default)
    flips the overexposed face's hue and clips the red-lit face."""
    def old_reinhard(swapped, original, mask):
        swapped_lab, original_lab = (cv2.cvtColor(image, cv2.COLOR_BGR2LAB) for image in (swapped, original))
        (swapped_mean, swapped_std), (original_mean, original_std) = (
            masked_mean_and_deviation(lab, mask) for lab in (swapped_lab, original_lab))
        lab = ((swapped_lab - swapped_mean) * (original_std / swapped_std) + original_mean).astype(np.float32)
        np.clip(lab[..., 0], 0.0, 100.0, out=lab[..., 0])
        np.clip(lab[..., 1:], -127.0, 127.0, out=lab[..., 1:])
        return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), 0.0, 1.0)

    worst_flip, worst_clip = 0.0, 0.0
    for case in ("overexposed_face", "red_stage_light"):
        original = aligned_case(case)
        input_crop = _as_float(original.crop)
        for donor_name in ("s1", "s3", "s4"):
            donor = aligned_still(donor_name)
            skin = statistics_mask(original.landmarks, original.mask) * statistics_mask(donor.landmarks, donor.mask)
            result = old_reinhard(_as_float(donor.crop), input_crop, original.mask)
            worst_flip = max(worst_flip, hue_flip_share(result, input_crop, skin) - hue_flip_share(input_crop, input_crop, skin))
            worst_clip = max(worst_clip, clipped_share(result, skin) - clipped_share(input_crop, skin))
    assert worst_flip > 0.02 and worst_clip > 0.2


def test_skin_mask_leaves_out_an_open_mouth(aligned_still):
    face = aligned_still("s0")
    landmarks = face.landmarks.copy()
    landmarks[[65, 66, 67, 55, 56, 57, 58, 59], 1] += 6.0  # open the jaw by 6 px
    mouth = np.round(landmarks[[62, 66]].mean(axis=0)).astype(int)
    assert skin_mask(landmarks, 64)[mouth[1], mouth[0]] == 0.0


def test_unknown_mode_is_a_clear_error(face_pair):
    swapped, original, mask = face_pair
    with pytest.raises(InputError, match="unknown colour mode 'sepia'"):
        transfer_color(swapped, original, mask, "sepia")
    assert COLOR_MODES[0] == "illuminant"


def test_plane_wise_helpers_equal_numpys_reductions_and_broadcasts():
    # The per-channel helpers replace slow short-axis numpy reductions and broadcasts (issue 10):
    # they must give the very same numbers, including where the gamut is compressed.
    rng = np.random.default_rng(7)
    image = rng.uniform(-0.2, 1.3, (37, 41, 3)).astype(np.float32)
    grey = rng.uniform(0.0, 1.0, (37, 41, 1)).astype(np.float32)
    gains = np.array([1.7, 0.6, 1.05])
    assert np.array_equal(_channel_max(image), image.max(axis=-1))
    assert np.array_equal(_channel_min(image), image.min(axis=-1))
    assert np.array_equal(_scale_channels(image, gains), image * gains.astype(np.float32))
    offset = image - grey
    reach = np.maximum(offset / np.maximum(1.0 - 1.0 / 255.0 - grey, 1e-6),
                       offset / -np.maximum(grey - 1.0 / 255.0, 1e-6)).max(axis=-1)
    assert np.array_equal(_gamut_reach(image, grey), reach) and reach.max() > 0.85
    # Encoding non-negative linear light skips the sign; with or without it the bits are the same.
    for linear in (np.abs(image), image):
        magnitude = np.abs(linear)
        signed = (np.sign(linear) * np.where(magnitude <= 0.0031308, 12.92 * magnitude,
                                             1.055 * np.power(magnitude, np.float32(1.0 / 2.4)) - 0.055))
        assert linear_to_srgb(linear).tobytes() == signed.astype(np.float32).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_clipped_share_counts_a_pixel_once_whichever_channel_clips(dtype):
    image = np.full((4, 5, 3), 128, np.uint8)
    image[0, 0] = (255, 10, 10)      # one channel at 255
    image[0, 1] = (0, 0, 0)          # all at 0
    image[1, 1] = (200, 0, 255)      # both ends in one pixel
    image[3, 4] = (255, 255, 255)    # clipped but outside the mask
    mask = np.ones((4, 5), np.float32)
    mask[3, 4] = 0.0
    picture = image if dtype == np.uint8 else image.astype(np.float32) / 255.0
    assert clipped_share(picture, mask) == pytest.approx(3 / 19)
    assert clipped_share(picture, np.zeros((4, 5), np.float32)) == 0.0
    if dtype == np.float32:   # values that round to 255 / 0 when written count as clipped
        nearly = np.full((2, 2, 3), 0.5, np.float32)
        nearly[0, 0, 2], nearly[1, 1, 0] = 254.6 / 255.0, 0.4 / 255.0
        assert clipped_share(nearly, np.ones((2, 2), np.float32)) == 0.5
