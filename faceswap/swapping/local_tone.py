"""Local tone match: the user's skin tone and light region by region, not only on average.

The colour transfer (``color_transfer``) gives the swapped face the user's *mean* skin colour.
What it leaves is the target's own low-frequency colouring: the shine and the pale, cool forehead
of her footage's studio light, her rosier cheeks, drawn by decoder B wherever the user's face goes.
On a user lit differently they read as blotches — a pale patch between the brows and over the
forehead on every held-out person (docs/merge-settings.md, "Local tone").

Here the swapped face's colour, blurred with a Gaussian of a fifth of the crop (the frame
swapper's default ``local_tone`` 0.2), is moved to the user's, blurred the same way: a per-pixel,
per-channel gain in linear light (the ``"illuminant"`` transform made local), so the detail the
decoder draws stays and only the slowly varying tone changes. The blur
is a normalised convolution (Knutsson & Westin, "Normalized and differential convolution", CVPR
1993): both faces are averaged only over bare face — the face mask without brows, eyes and mouth,
and without what is not skin coloured on the user (a fringe, glasses frames) — so features do not
bleed into the tone; elsewhere the average of the surrounding skin fills in. ``lightness`` sets
how much of the user's shading is taken as well as their skin's colour (1: all of it, 0: colour
only, the swapped face's own shading kept). The user's shading carries the shape of their face:
the finer it is taken (a smaller radius) the more of the user's identity comes with it.

Images are model-crop sized: ``float32 (S, S, 3)`` **BGR** in [0, 1]; masks ``float32 (S, S)``
in [0, 1]. The blurs run at a quarter of the crop size (the tone is smooth).
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.faces.masks import features_mask
from faceswap.swapping.color_transfer import (_EDGE, _LUMINANCE_BGR, luminance_grey, masked_mean_and_deviation,
                                              project_into_gamut, srgb_to_linear)

# The low-frequency fields are computed on a grid this many times coarser than the crop.
_DOWNSCALE = 4
# Gains kept within [1/_MAX_GAIN, _MAX_GAIN]: a region with no skin on either side must not explode.
_MAX_GAIN = 2.0
# A pixel of the user's face counts as skin by its distance from the mean skin colour in units of
# the skin's own standard deviation per L*, a*, b* channel (a diagonal Mahalanobis distance: a
# side-lit face spreads wide in L*, so its shadows still count, while dark hair differs in all
# three): full weight at the mean, falling as a Gaussian of this many deviations.
_SKIN_TOLERANCE = 2.5
_MIN_SKIN_DEVIATION = np.array([4.0, 2.0, 2.0])   # L*, a*, b*: a face of one flat colour still tolerates some
# Gains in linear light act on sRGB-encoded values as gain ** (1 / this) (a pure power law's exponent).
_ENCODING_GAMMA = 2.2
# Where the bare-face weight, blurred, is under this share of its maximum the gains fade towards 1.
_CONFIDENT_SHARE = 0.5


def coarse_size(size: int) -> int:
    """Side of the coarse grid the tone is measured on, for a crop of ``size`` px."""
    return max(size // _DOWNSCALE, 4)


def tone_weights(crop_landmarks68: np.ndarray, face_mask: np.ndarray, original: np.ndarray,
                 skin: np.ndarray) -> np.ndarray:
    """Where the user's tone is read, on the coarse grid: float32 (s, s) in [0, 1], s = ``coarse_size(S)``.

    crop_landmarks68: (68, 2) landmarks in crop px; face_mask: float32 (S, S) in [0, 1];
    original: the user's aligned face, float32 (S, S, 3) BGR in [0, 1]; skin: the colour
    transfer's statistics mask (``statistics_mask``, float32 (S, S)), whose mean colour is the
    user's skin. The face mask above one half, without brows, eyes and mouth (``features_mask``,
    grown as for the skin mask), each cell weighed by how skin-like the user's colour is there (a
    fringe or a glasses frame weighs ~0).
    """
    size = face_mask.shape[0]
    small = coarse_size(size)

    def shrink(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)

    points = np.asarray(crop_landmarks68, dtype=np.float32) * np.float32(small / size)
    bare = (shrink(face_mask) > 0.5) & (features_mask(points, small) == 0)
    lab = cv2.cvtColor(shrink(original), cv2.COLOR_BGR2LAB)
    mean, deviation = masked_mean_and_deviation(lab, shrink(skin))
    scale = (1.0 / (_SKIN_TOLERANCE * np.maximum(deviation, _MIN_SKIN_DEVIATION))).astype(np.float32)
    distance2 = sum(((lab[..., channel] - np.float32(mean[channel])) * scale[channel]) ** 2 for channel in range(3))
    return bare * np.exp(np.float32(-0.5) * distance2)


def _weighted_blur(image: np.ndarray, small_size: int, weights_small: np.ndarray, sigma: float) -> np.ndarray:
    """blur(linear x w) on the coarse grid, (s, s, 3) float32. Divided by blur(w) it is the
    normalised convolution's local mean; the gains below are ratios of two of them, so the
    division cancels and is not made."""
    small = srgb_to_linear(cv2.resize(image, (small_size, small_size), interpolation=cv2.INTER_AREA))
    return cv2.GaussianBlur(small * weights_small[..., None], (0, 0), sigma)


def local_tone_transfer(swapped: np.ndarray, original: np.ndarray, weights: np.ndarray, radius: float,
                        lightness: float = 1.0, darken_only: bool = False) -> np.ndarray:
    """Move the swapped face's low-frequency colour onto the user's.

    swapped: float32 (S, S, 3) BGR in [0, 1], already colour-corrected (``transfer_color``);
    original: the user's aligned face, float32 (S, S, 3) BGR in [0, 1];
    weights: float32 (s, s) in [0, 1] on the coarse grid (``tone_weights``; another size is resized);
    radius: the blur's sigma as a share of the crop size (> 0; the default merge uses 0.2: a smaller
        radius takes more of the user's shading, which carries their face's shape, so identity
        suffers; docs/merge-settings.md, "Local tone");
    lightness: in [0, 1], how much of the user's shading is taken besides their skin's colour;
    darken_only: every gain capped at 1, so the face is only darkened where it is lighter than the
        user's (the target's shine), never brightened (the frame swapper's ``local_tone_highlights``).
    Returns float32 (S, S, 3) BGR in [0, 1]; ``swapped`` itself when ``weights`` is all zero.
    Raises ValueError for a radius that is not finite and > 0 or a lightness outside [0, 1].

    The gains are measured in linear light on the coarse grid and applied to the sRGB values as
    gain ** (1 / 2.2) (exact for a pure power-law encoding, within a few per cent of a gain for
    sRGB's), so the full-size face is never converted for the gains (the transfer costs ~0.3 ms at
    96 px). Colours the gains push outside [0, 1] are moved towards the grey of their own
    luminance (hue kept, ``_into_gamut``) rather than clipped per channel, so the match never clips
    skin that the user's frame does not clip.
    """
    if not 0.0 < radius < float("inf"):
        raise ValueError(f"local tone radius must be finite and > 0, not {radius}")
    if not 0.0 <= lightness <= 1.0:
        raise ValueError(f"local tone lightness must be in [0, 1], not {lightness}")
    size = swapped.shape[0]
    small_size = coarse_size(size)
    weights_small = weights.astype(np.float32, copy=False)
    if weights_small.shape != (small_size, small_size):
        weights_small = cv2.resize(weights_small, (small_size, small_size), interpolation=cv2.INTER_AREA)
    sigma = radius * small_size
    blurred_weights = cv2.GaussianBlur(weights_small, (0, 0), sigma)
    peak = float(blurred_weights.max())
    if peak <= 1e-6:
        return swapped
    original_sum = _weighted_blur(original, small_size, weights_small, sigma)
    swapped_sum = _weighted_blur(swapped, small_size, weights_small, sigma)
    log_gains = np.log(np.clip((original_sum + 1e-4) / (swapped_sum + 1e-4), 1.0 / _MAX_GAIN, _MAX_GAIN))
    if lightness < 1.0:
        log_luminance_gain = np.log((cv2.transform(original_sum, _LUMINANCE_BGR) + 1e-4)
                                    / (cv2.transform(swapped_sum, _LUMINANCE_BGR) + 1e-4))
        log_gains -= np.float32(1.0 - lightness) * log_luminance_gain[..., None]
    if darken_only:
        np.minimum(log_gains, 0.0, out=log_gains)
    confidence = np.clip(blurred_weights / np.float32(_CONFIDENT_SHARE * peak), 0.0, 1.0)
    log_gains *= (confidence * np.float32(1.0 / _ENCODING_GAMMA))[..., None]
    gains = np.exp(cv2.resize(log_gains, (size, size), interpolation=cv2.INTER_LINEAR))
    return _into_gamut(swapped * gains)


def _into_gamut(toned: np.ndarray) -> np.ndarray:
    """The toned face, float32 (S, S, 3) BGR sRGB-encoded and unclipped, brought into [0, 1]: the
    colours a gain pushed outside are moved towards the grey of their own luminance
    (``project_into_gamut``, hue kept), not clipped channel by channel: one channel of a saturated
    colour (a face under red stage light) clipped flat is a clipping the user's frame does not
    have (../shared/data/cases/red_stage_light.png). Colours inside [1/255, 254/255] are left as
    they are, so a face that already has the user's tone comes back unchanged, and when every
    colour is inside (most faces) nothing is computed. Returns float32 (S, S, 3) in [0, 1]."""
    if float(toned.min()) >= _EDGE and float(toned.max()) <= 1.0 - _EDGE:
        return toned
    return project_into_gamut(toned, luminance_grey(srgb_to_linear(np.maximum(toned, 0.0)))[..., None])
