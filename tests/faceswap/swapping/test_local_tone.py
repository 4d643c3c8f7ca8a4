"""Local tone match on real aligned faces: a pale patch of the target's own light, left by the mean
colour transfer, takes the user's tone; the swapped face's detail stays; the user's fringe or
glasses do not darken the face; on the faces real users send (../shared/data/cases) no skin is
clipped nor has its hue flipped; errors are clear."""

from __future__ import annotations

import cv2
from types import SimpleNamespace

import numpy as np
import pytest

from faceswap.faces.alignment import warp_to_crop
from faceswap.faces.masks import face_mask, features_mask
from faceswap.swapping.color_transfer import clipped_share, hue_flip_share, statistics_mask, transfer_color
from faceswap.swapping.local_tone import coarse_size, local_tone_transfer, tone_weights
from tests.faceswap.swapping.test_color_transfer import CASES, DONORS


def _as_float(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32) / 255.0


def _full(weights: np.ndarray, size: int) -> np.ndarray:
    """Coarse-grid weights at the crop's size (nearest: each cell's weight over its pixels)."""
    return cv2.resize(weights, (size, size), interpolation=cv2.INTER_NEAREST)


def _local_lab(image: np.ndarray, weights: np.ndarray, sigma: float = 6.0) -> np.ndarray:
    weights = _full(weights, image.shape[0])
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    blurred = cv2.GaussianBlur(weights, (0, 0), sigma)
    return cv2.GaussianBlur(lab * weights[..., None], (0, 0), sigma) / np.maximum(blurred, 1e-6)[..., None]


def _glabella_patch(face) -> np.ndarray:
    """float32 (S, S) in [0, 1]: a soft blob between the brows and over the low forehead."""
    size = face.mask.shape[0]
    centre = (face.landmarks[21] + face.landmarks[22]) / 2.0
    blob = np.zeros((size, size), np.float32)
    cv2.circle(blob, tuple(int(round(v)) for v in centre), int(size * 0.1), 1.0, -1)
    return cv2.GaussianBlur(blob, (0, 0), size * 0.05)


@pytest.fixture(scope="module")
def aligned96(aligned_still):
    """aligned96('s0') -> the sample still's face at the bundled model's 96 px (the classic layout, scaled)."""
    def _aligned(name: str):
        face = aligned_still(name)
        scale = 96 / face.mask.shape[0]
        matrix = face.matrix * np.float32(scale)
        landmarks = face.landmarks * np.float32(scale)
        return SimpleNamespace(crop=warp_to_crop(face.frame, matrix, 96, "cubic"), landmarks=landmarks,
                               mask=face_mask(landmarks, 96), frame=face.frame)
    return _aligned


@pytest.fixture(scope="module")
def patched(aligned96):
    """(swapped stand-in with a pale patch, colour-corrected; original; weights; patch; plain corrected)."""
    user, other = aligned96("s0"), aligned96("s4")   # s4: a bare forehead
    original = _as_float(user.crop)
    skin = statistics_mask(user.landmarks, user.mask)
    weights = tone_weights(user.landmarks, user.mask, original, skin)
    plain = transfer_color(_as_float(other.crop), original, skin)
    patch = _glabella_patch(user)
    pale = plain + patch[..., None] * (np.float32(0.97) - plain) * np.float32(0.7)   # towards white: shine
    return transfer_color(pale, original, skin), original, weights, patch, plain


def test_tone_weights_are_bare_face_without_features(aligned_still):
    face = aligned_still("s0")
    original = _as_float(face.crop)
    weights = tone_weights(face.landmarks, face.mask, original, statistics_mask(face.landmarks, face.mask))
    size = face.mask.shape[0]
    cell = size / coarse_size(size)
    at = lambda point: weights[int(point[1] // cell), int(point[0] // cell)]
    assert weights.dtype == np.float32 and weights.shape == (coarse_size(size),) * 2 == (16, 16)
    assert at(face.landmarks[30]) > 0.5                                  # nose tip
    assert at((face.landmarks[21] + face.landmarks[22]) / 2) > 0.3       # between the brows
    for feature in (37, 44, 19, 24, 62):                                 # eyes, brows, mouth
        assert at(face.landmarks[feature]) == 0.0, feature
    assert weights[cv2.resize(face.mask, weights.shape, interpolation=cv2.INTER_AREA) <= 0.5].max() == 0.0   # nothing outside the face


def test_a_pale_patch_takes_the_users_tone_and_the_detail_stays(patched):
    corrected, original, weights, patch, _ = patched
    result = local_tone_transfer(corrected, original, weights, radius=0.15)
    assert result.dtype == np.float32 and result.shape == corrected.shape
    assert result.min() >= 0.0 and result.max() <= 1.0

    region = (patch > 0.5) & (_full(weights, patch.shape[0]) > 0)
    assert region.sum() > 20
    target = _local_lab(original, weights)
    before = np.linalg.norm(_local_lab(corrected, weights) - target, axis=-1)[region].mean()
    after = np.linalg.norm(_local_lab(result, weights) - target, axis=-1)[region].mean()
    assert before > 4.0                  # the patch is a visible blotch (Delta E; 2.3 is just noticeable)
    assert after < 0.5 * before          # and mostly gone

    # Detail finer than the tone stays the swapped face's own.
    high_pass = lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) - cv2.GaussianBlur(
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (0, 0), 2.0)
    face = _full(weights, corrected.shape[0]) > 0
    assert np.corrcoef(high_pass(corrected)[face], high_pass(result)[face])[0, 1] > 0.9
    assert np.corrcoef(high_pass(original)[face], high_pass(result)[face])[0, 1] < 0.6


def test_lightness_zero_moves_colour_and_keeps_the_swapped_faces_shading(patched):
    corrected, original, weights, patch, _ = patched
    result = local_tone_transfer(corrected, original, weights, radius=0.15, lightness=0.0)
    region = (patch > 0.5) & (_full(weights, patch.shape[0]) > 0)
    lightness = lambda image: _local_lab(image, weights)[..., 0][region].mean()
    chroma = lambda image: np.linalg.norm(_local_lab(image, weights)[..., 1:], axis=-1)[region].mean()
    assert abs(lightness(result) - lightness(corrected)) < 1.5      # the pale patch keeps its lightness
    assert abs(chroma(result) - chroma(original)) < 0.5 * abs(chroma(corrected) - chroma(original))


def test_a_face_with_the_users_own_tone_is_left_as_it_is(aligned96):
    face = aligned96("s3")
    original = _as_float(face.crop)
    weights = tone_weights(face.landmarks, face.mask, original, statistics_mask(face.landmarks, face.mask))
    result = local_tone_transfer(original, original, weights, radius=0.15)
    difference = np.abs(result - original)
    assert difference.mean() < 0.5 / 255.0
    assert np.percentile(difference, 99) < 2.0 / 255.0   # the gamut knee may touch the most saturated pixels


def test_a_fringe_on_the_users_forehead_does_not_darken_the_swapped_face(aligned96, patched):
    _, original, _, _, plain = patched
    user = aligned96("s0")
    size = user.mask.shape[0]
    fringe_bottom = int(round(user.landmarks[17:27, 1].mean()))     # the classic crop ends just above the brows
    hair = original.copy()
    hair[:fringe_bottom] = np.float32([0.08, 0.1, 0.14])            # dark brown hair down to the brows
    skin = statistics_mask(user.landmarks, user.mask)
    weights = tone_weights(user.landmarks, user.mask, hair, skin)
    forehead = ((np.arange(size)[:, None] < fringe_bottom) & (user.mask > 0.5)
                & (features_mask(user.landmarks, size) == 0))
    assert forehead.sum() > 10
    cell = size // coarse_size(size)
    hair_cells = forehead & (np.arange(size)[:, None] < fringe_bottom // cell * cell)   # cells of hair only
    assert hair_cells.sum() > 10
    assert _full(weights, size)[hair_cells].max() < 0.05             # hair is not skin
    result = local_tone_transfer(plain, hair, weights, radius=0.15)
    grey = lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[forehead].mean()
    assert grey(result) > 0.85 * grey(plain)


def test_empty_weights_return_the_swapped_face_itself(patched):
    corrected, original, weights, _, _ = patched
    assert local_tone_transfer(corrected, original, np.zeros_like(weights), radius=0.15) is corrected


@pytest.mark.parametrize("radius, lightness", [(0.0, 1.0), (-0.1, 1.0), (float("inf"), 1.0), (float("nan"), 1.0),
                                               (0.15, -0.1), (0.15, 1.5)])
def test_bad_radius_or_lightness_is_a_clear_error(patched, radius, lightness):
    corrected, original, weights, _, _ = patched
    with pytest.raises(ValueError, match="local tone"):
        local_tone_transfer(corrected, original, weights, radius=radius, lightness=lightness)


def test_features_mask_covers_brows_eyes_and_mouth_only(aligned_still):
    face = aligned_still("s0")
    features = features_mask(face.landmarks, face.mask.shape[0])
    at = lambda point: features[int(round(point[1])), int(round(point[0]))]
    assert features.dtype == np.uint8
    for feature in (19, 24, 37, 44, 51, 57, 62):
        assert at(face.landmarks[feature]) == 255, feature
    assert at(face.landmarks[30]) == 0                                   # nose tip
    for eye, mouth_corner in ((41, 48), (46, 54)):                      # cheeks
        assert at((face.landmarks[eye] + face.landmarks[mouth_corner]) / 2) == 0


def test_weights_at_the_crop_size_are_resized_to_the_grid(patched):
    corrected, original, weights, _, _ = patched
    full = _full(weights, corrected.shape[0])
    np.testing.assert_allclose(local_tone_transfer(corrected, original, full, radius=0.15),
                               local_tone_transfer(corrected, original, weights, radius=0.15), atol=1e-5)


def _light_field(size: int) -> np.ndarray:
    """float32 (S, S, 3): a smooth light difference, 1.35x at the left edge to 0.75x at the right,
    brighter at the top than at the chin (two lamps), in linear light."""
    x = np.linspace(0.0, 1.0, size, dtype=np.float32)
    field = (1.35 - 0.6 * x)[None, :] * (1.1 - 0.2 * x)[:, None]
    return np.repeat(field[..., None], 3, axis=2)


def test_a_smooth_difference_of_light_is_taken_whole_in_the_face(aligned96):
    from faceswap.swapping.color_transfer import linear_to_srgb, srgb_to_linear

    face = aligned96("s3")
    original = _as_float(face.crop)
    swapped = np.clip(linear_to_srgb(srgb_to_linear(original) * _light_field(96)), 0, 1).astype(np.float32)
    weights = tone_weights(face.landmarks, face.mask, original, statistics_mask(face.landmarks, face.mask))
    result = local_tone_transfer(swapped, original, weights, radius=0.15)
    core = cv2.erode((_full(weights, 96) > 0.2).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert core.sum() > 500
    difference = lambda image: np.linalg.norm(cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
                                              - cv2.cvtColor(original, cv2.COLOR_BGR2LAB), axis=-1)[core].mean()
    assert difference(swapped) > 4.0
    assert difference(result) < 0.4 * difference(swapped)           # neither far short of the light nor past it


def test_the_radius_sets_how_local_the_match_is(patched):
    corrected, original, weights, patch, _ = patched
    region = (patch > 0.5) & (_full(weights, patch.shape[0]) > 0)
    target = _local_lab(original, weights)
    error = lambda image: np.linalg.norm(_local_lab(image, weights) - target, axis=-1)[region].mean()
    local = error(local_tone_transfer(corrected, original, weights, radius=0.15))
    broad = error(local_tone_transfer(corrected, original, weights, radius=3.0))   # wider than the face: one tone
    assert local < 0.5 * error(corrected) < 0.5 * broad


def test_half_the_lightness_takes_about_half_the_users_shading(patched):
    corrected, original, weights, patch, _ = patched
    region = (patch > 0.5) & (_full(weights, patch.shape[0]) > 0)
    lightness = lambda image: _local_lab(image, weights)[..., 0][region].mean()
    change = {share: lightness(local_tone_transfer(corrected, original, weights, 0.15, share)) - lightness(corrected)
              for share in (0.5, 1.0)}
    assert change[1.0] < -3.0                                        # the pale patch is darkened to the user's skin
    assert 0.3 < change[0.5] / change[1.0] < 0.7


def test_away_from_the_face_the_match_fades_out(aligned96):
    face = aligned96("s3")
    original = _as_float(face.crop)
    swapped = original * np.float32(0.8)                              # drawn in a dimmer light
    weights = tone_weights(face.landmarks, face.mask, original, statistics_mask(face.landmarks, face.mask))
    result = local_tone_transfer(swapped, original, weights, radius=0.15)
    ratio = (result + 1e-3) / (swapped + 1e-3)
    nose = np.round(face.landmarks[30]).astype(int)
    assert ratio[nose[1], nose[0]].mean() > 1.18                     # in the face: the user's light (1.25x)
    assert ratio[:3, :3].mean() < 1.12 and ratio[:3, -3:].mean() < 1.12   # the top corners (hair): mostly left alone


def test_gains_are_bounded_and_the_result_stays_in_range(aligned96):
    face = aligned96("s3")
    size = 96
    weights = tone_weights(face.landmarks, face.mask, _as_float(face.crop), statistics_mask(face.landmarks, face.mask))
    grey = lambda value: np.full((size, size, 3), value, np.float32)
    brighter = local_tone_transfer(grey(0.1), grey(1.0), weights, radius=0.15)       # 10x the light asked for
    darker = local_tone_transfer(grey(0.9), grey(0.0), weights, radius=0.15)         # no light at all
    assert brighter.max() <= 0.1 * 2.0 ** (1 / 2.2) + 1e-4 and brighter.max() > 0.12
    assert darker.min() >= 0.9 * 0.5 ** (1 / 2.2) - 1e-4 and darker.min() < 0.8
    shiny = grey(0.5)
    shiny[40:44, 40:44] = 0.99                                       # a highlight that the gain pushes past white
    lit = local_tone_transfer(shiny, grey(0.9), weights, radius=0.15)
    assert lit.max() <= 1.0 and lit[40:44, 40:44].min() > 0.98


def test_darken_only_takes_a_pale_patch_down_and_leaves_a_dark_one(patched, aligned96):
    corrected, original, weights, patch, plain = patched
    region = (patch > 0.5) & (_full(weights, patch.shape[0]) > 0)
    lightness = lambda image: _local_lab(image, weights)[..., 0][region].mean()
    darkened = local_tone_transfer(corrected, original, weights, radius=0.1, darken_only=True)
    assert lightness(darkened) < lightness(corrected) - 3.0           # the shine goes
    assert np.all(darkened <= corrected + 1e-6)                       # nothing is brightened
    shadow = plain * (1.0 - 0.5 * patch[..., None])                    # a dark patch instead
    kept = local_tone_transfer(shadow, original, weights, radius=0.1, darken_only=True)
    assert abs(lightness(kept) - lightness(shadow)) < 0.5


@pytest.mark.parametrize("case", CASES)
def test_on_the_faces_users_send_the_match_never_flips_skin_hue_nor_clips_more_than_the_input(
        aligned_case, aligned_still, case):
    """The colour transfer's bounds (test_color_transfer) hold after the local tone match too: other
    people's faces stand in for the model's output on the overexposed, red-lit and very dark faces
    of ../shared/data/cases. A gain that pushes one channel of a saturated colour past 1 is brought
    into gamut towards grey, not clipped flat (clipped per channel, 1-19 % more of the red-lit skin)."""
    original = aligned_case(case)
    input_crop = _as_float(original.crop)
    statistics = statistics_mask(original.landmarks, original.mask)
    weights = tone_weights(original.landmarks, original.mask, input_crop, statistics)
    for donor_name in DONORS:
        donor = aligned_still(donor_name)
        skin = statistics * statistics_mask(donor.landmarks, donor.mask)
        toned = local_tone_transfer(transfer_color(_as_float(donor.crop), input_crop, statistics), input_crop,
                                    weights, radius=0.2)

        flips = hue_flip_share(toned, input_crop, skin) - hue_flip_share(input_crop, input_crop, skin)
        clipped = clipped_share(toned, skin) - clipped_share(input_crop, skin)
        assert flips <= 0.0, f"{case} with {donor_name}: {flips:.1%} more skin with a flipped hue"
        assert clipped <= 0.01, f"{case} with {donor_name}: {clipped:.1%} more skin clipped"
