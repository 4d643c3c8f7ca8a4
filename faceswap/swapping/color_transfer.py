"""Colour correction of a swapped face towards the face it replaces.

The decoder paints the face in the colours of the identity it was trained on; before the face is
blended back, its colour statistics are moved to those of the original face crop so that skin tone
and lighting match the frame. Statistics come from bare skin only (``statistics_mask``: the face
between jaw line and brows, without eyes, brows and mouth, from the 68 landmarks), so eyes, teeth,
hair and background in the crop do not pull the result.

Modes:

- ``"illuminant"`` (default): a von Kries transform — one gain per channel in linear light, the
  ratio of the original's mean skin colour to the swapped face's — as camera white balance and
  exposure act on a picture (von Kries 1902; e.g. Finlayson, Drew & Funt, "Diagonal transforms
  suffice for color constancy", ICCV 1993). A face under red stage light, in a dark room or
  overexposed differs from a normally lit one by exactly such gains, so the swapped face takes the
  frame's light. Positive gains never push a colour through grey to the opposite hue. When the
  original's skin is clipped (its statistics are extreme: an overexposed face is white because the
  channels hit 255, not because the light is white) the per-channel part is trusted less, down to
  a single exposure gain for all channels at 50 % clipped skin. Colours the gains push outside
  sRGB are compressed towards the grey of the same luminance with a soft knee (hue kept, no flat
  clipped patches), in the spirit of the ACES reference gamut compression.
- ``"reinhard"``: Reinhard et al. 2001, "Color Transfer between Images" (IEEE CG&A 21(5)) —
  per-channel mean and standard deviation transfer in CIE L*a*b*, with the same gamut
  compression. Matches contrast as well as colour, but a*/b* shifted and scaled per channel can
  cross grey: on a washed-out face it paints patches of the opposite hue (see
  docs/merge-settings.md).
- ``"average"``: shift the mean BGR colour of the swapped face onto the original's.
- ``"none"``: leave the swapped face as the model produced it.

The measures the tests and the merge benchmark use are here as well: ``hue_flip_share`` and
``clipped_share``.

All images here are model-crop sized: ``float32 (S, S, 3)`` **BGR** in [0, 1]; masks are
``float32 (S, S)`` in [0, 1]. Nothing here calls a BLAS routine (no matrix products over pixels):
per-frame work on 64 px crops must not wake OpenBLAS threads (issue 10).
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.errors import InputError
from faceswap.faces.masks import skin_mask

COLOR_MODES = ("illuminant", "reinhard", "average", "none")

# A channel whose spread is (almost) zero inside the mask cannot be rescaled meaningfully.
_MIN_STANDARD_DEVIATION = 1e-3
# Skin statistics need at least this share of the crop; otherwise the face mask is used.
_MIN_SKIN_SHARE = 0.03
# Share of the original's skin clipped at which per-channel gains give way to one exposure gain.
_CLIPPED_DISTRUST = 0.5
# Gains are kept within [1/_MAX_GAIN, _MAX_GAIN] (a black or empty statistic must not explode).
_MAX_GAIN = 256.0
# Rec. 709 / sRGB luminance weights in B, G, R order.
_LUMINANCE_BGR = np.array([[0.0722, 0.7152, 0.2126]], dtype=np.float32)
# Soft gamut compression: reach (0 = grey, 1 = gamut border) above which colours are compressed,
# and the reach they approach (kept under 1 so no channel lands exactly on 0 or 255).
_KNEE, _LIMIT = 0.85, 0.995

# OpenCV's sRGB D65 constants (imgproc/src/color_lab.cpp), so the inverse below matches cv2's forward.
_WHITE = (0.950456, 1.0, 1.088754)
_XYZ_TO_LINEAR_BGR = np.array([[0.055648, -0.204043, 1.057311],
                               [-0.969256, 1.875991, 0.041556],
                               [3.240479, -1.53715, -0.498535]], dtype=np.float32)


def masked_mean_and_deviation(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``image`` over the pixels where ``mask`` > 0.5.

    image: float32 (S, S, C<=4), any range; mask: float32 (S, S) in [0, 1].
    Returns two float64 (C,) arrays. A mask with no pixel above 0.5 falls back to the whole image.
    ``cv2.meanStdDev`` (no matrix product over pixels, so no BLAS thread wakes up).
    """
    binary = (mask > 0.5).astype(np.uint8)
    channels = image.shape[-1]
    mean, deviation = cv2.meanStdDev(image, mask=binary if binary.any() else None)
    return mean.reshape(-1)[:channels], deviation.reshape(-1)[:channels]


def statistics_mask(crop_landmarks68: np.ndarray, face_mask: np.ndarray) -> np.ndarray:
    """Where colour statistics are taken: bare skin inside the face mask, float32 (S, S) in {0, 1}.

    crop_landmarks68: (68, 2) landmarks in crop px; face_mask: float32 (S, S) in [0, 1].
    ``faces.masks.skin_mask`` (jaw-to-brows hull without eyes, brows, mouth) where the face mask is
    above one half; when that leaves under 3 % of the crop (a profile, a face cut by the crop), the
    face mask itself.
    """
    size = face_mask.shape[0]
    skin = skin_mask(crop_landmarks68, size)
    skin[face_mask <= 0.5] = 0.0
    if skin.sum() < _MIN_SKIN_SHARE * skin.size:
        return face_mask
    return skin


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light, float32, same shape (IEC 61966-2-1)."""
    image = image.astype(np.float32, copy=False)
    return np.where(image <= 0.04045, image * np.float32(1.0 / 12.92),
                    np.power((image + np.float32(0.055)) * np.float32(1.0 / 1.055), np.float32(2.4)))


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB-encoded values, float32, same shape; not clipped (negative stays negative)."""
    magnitude = np.abs(linear)
    encoded = np.where(magnitude <= 0.0031308, 12.92 * magnitude,
                       1.055 * np.power(magnitude, np.float32(1.0 / 2.4)) - 0.055)
    if encoded.dtype == np.float32 and linear.min() >= 0.0:
        return encoded   # no negative value (nor NaN): the sign would multiply every value by 1 (or 0 by 0)
    return (np.sign(linear) * encoded).astype(np.float32)


def lab_to_bgr_unclipped(lab: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (float32 (..., 3), L* in [0, 100]) -> sRGB BGR float32, **not** clipped to [0, 1].

    The inverse of ``cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)`` for float images (D65 white, sRGB
    gamma, OpenCV's constants), except that colours outside the sRGB gamut come out below 0 or
    above 1 instead of clipped, so a caller can see how far outside they are.
    """
    lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (lightness + 16.0) / 116.0   # for L* <= 8 too: 7.787 L / 903.3 + 16/116 is this line (903.3 / 7.787 = 116)
    y = np.where(lightness <= 8.0, lightness / 903.3, fy * fy * fy)

    def inverse_f(f: np.ndarray) -> np.ndarray:
        return np.where(f <= 0.206893, (f - 16.0 / 116.0) / 7.787, f * f * f)

    xyz = np.stack([inverse_f(fy + a / 500.0) * _WHITE[0], y, inverse_f(fy - b / 200.0) * _WHITE[2]], axis=-1)
    linear = cv2.transform(xyz.astype(np.float32).reshape(-1, 1, 3), _XYZ_TO_LINEAR_BGR).reshape(lab.shape)
    return linear_to_srgb(linear)


def lightness_to_grey(lightness: np.ndarray) -> np.ndarray:
    """The sRGB value (0-1, unclipped) of the grey with CIE L* ``lightness``; same shape, float32."""
    return linear_to_srgb(np.where(lightness <= 8.0, lightness / 903.3, np.power((lightness + 16.0) / 116.0, 3.0)))


# Colours are kept this far (in 0-1 units) from 0 and 1, so none rounds onto 0 or 255.
_EDGE = 1.0 / 255.0


# numpy is slow along a short last axis: a reduction over the 3 channels (``.max(axis=-1)``) or a
# broadcast of (S, S, 1) or (3,) against (S, S, 3) runs its inner loop 3 elements at a time (20x the
# time of the same arithmetic on whole planes, issue 10). The helpers below give bit-identical results
# with plane-wise operations.

def _channel_max(image: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the 3 channels of ``image`` (..., 3): ``image.max(axis=-1)``, faster."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def _channel_min(image: np.ndarray) -> np.ndarray:
    """Per-pixel minimum over the 3 channels of ``image`` (..., 3): ``image.min(axis=-1)``, faster."""
    return np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2])


def _three_channels(plane: np.ndarray) -> np.ndarray:
    """float32 (S, S, 1) or (S, S) -> (S, S, 3) with the plane in every channel (to combine with
    an (S, S, 3) image without numpy broadcasting)."""
    if plane.ndim == 3 and plane.shape[2] == 3:
        return plane
    plane = plane.reshape(plane.shape[:2])
    return cv2.merge((plane, plane, plane))


def _scale_channels(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """float32 (S, S, 3) ``image * gains`` for gains (3,) (each channel times its float32 gain)."""
    scaled = np.empty_like(image)
    for channel in range(3):
        np.multiply(image[..., channel], np.float32(gains[channel]), out=scaled[..., channel])
    return scaled


def _gamut_reach(bgr: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """How far each colour reaches from its grey towards the border of [1/255, 254/255]:
    (S, S) float32; 1 = on it, above 1 = outside (would clip). grey: (S, S, 3) (or (S, S, 1))."""
    if grey.shape != bgr.shape:
        grey = _three_channels(grey)
    offset = bgr - grey
    upwards = offset / np.maximum(1.0 - _EDGE - grey, 1e-6)
    downwards = offset / -np.maximum(grey - _EDGE, 1e-6)
    return _channel_max(np.maximum(upwards, downwards))


def compress_gamut(bgr: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Bring colours inside [0, 1] by moving them towards ``grey`` (the same lightness, no colour).

    bgr: float32 (S, S, 3) unclipped sRGB; grey: float32 (S, S, 1) in [0, 1].
    Colours whose reach (``_gamut_reach``) is under the knee (0.85) are unchanged; above it the
    reach is compressed smoothly (tanh) towards 0.995, so gradients survive and no channel is
    clipped flat. Moving along the line to grey keeps the HSV hue exactly.
    Returns float32 (S, S, 3) in [0, 1].
    """
    grey = _three_channels(grey)
    reach = _gamut_reach(bgr, grey)
    if float(reach.max()) <= _KNEE:
        return np.clip(bgr, 0.0, 1.0)
    span = _LIMIT - _KNEE
    over = np.maximum(reach - _KNEE, 0.0)
    scale = (_KNEE + span * np.tanh(over / span)) / np.maximum(reach, _KNEE)
    scale = _three_channels(np.where(reach > _KNEE, scale, 1.0).astype(np.float32))
    return np.clip(grey + (bgr - grey) * scale, 0.0, 1.0)


def project_into_gamut(bgr: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Bring the colours outside [1/255, 254/255] onto its border, each along its line to ``grey``.

    bgr: float32 (S, S, 3) unclipped sRGB; grey: float32 (S, S, 1) in [0, 1], the grey of each
    colour's own luminance. Colours inside the box (no channel that would round to 0 or 255) come
    back unchanged; one outside is moved towards its grey until its first channel reaches the
    border (hue-preserving gamut clipping: continuous, and no channel clipped flat while the grey
    itself is inside). For a correction that is the identity on most faces (the local tone
    match), where ``compress_gamut``'s soft knee would also move the saturated colours that never
    left the gamut. Returns float32 (S, S, 3) in [0, 1].
    """
    grey = _three_channels(grey)
    reach = _gamut_reach(bgr, grey)
    if float(reach.max()) <= 1.0:
        return np.clip(bgr, 0.0, 1.0)
    scale = _three_channels(np.minimum(1.0 / np.maximum(reach, 1e-6), 1.0).astype(np.float32))
    return np.clip(grey + (bgr - grey) * scale, 0.0, 1.0)


def lift_blacks(image: np.ndarray, toe: float = 4.0 / 255.0) -> np.ndarray:
    """A film-like toe: values under ``toe`` are lifted smoothly so none rounds to 0, in place.

    image: float32 (..., 3) in [0, 1]. v -> v + (1/255) (1 - v/toe)^2 below ``toe`` (slope >= 0.5,
    so distinct shadows stay distinct); above ``toe`` nothing changes. A gain far under 1 (a
    face in a dark room) would otherwise round the deepest shadows of the swapped face to black,
    a clipping the original frame does not have. Returns ``image``.
    """
    shadow = np.minimum(image, toe)
    lift = 1.0 - shadow * np.float32(1.0 / toe)
    image += np.float32(1.0 / 255.0) * lift * lift
    return image


def clipped_share(image: np.ndarray, mask: np.ndarray) -> float:
    """Share (0-1) of mask pixels where any channel of ``image`` rounds to 0 or 255.

    image: uint8 (S, S, 3), or float (S, S, 3) in [0, 1] (rounded as it would be written);
    mask: (S, S), pixels above 0.5 count.
    """
    inside = mask > 0.5
    if not inside.any():
        return 0.0
    # Rounding is monotonic: some channel rounds to 255 (0) exactly when the brightest (darkest) does.
    brightest, darkest = _channel_max(image), _channel_min(image)
    if image.dtype == np.uint8:
        clipped = (brightest >= 255) | (darkest <= 0)
    else:  # round(clip(v) * 255) (half to even) is 255 exactly above 254.5, and 0 up to 0.5
        clipped = (brightest * 255.0 > 254.5) | (darkest * 255.0 <= 0.5)
    return np.count_nonzero(clipped & inside) / np.count_nonzero(inside)


def hue_flip_share(image: np.ndarray, reference: np.ndarray, mask: np.ndarray, min_chroma: float = 5.0) -> float:
    """Share (0-1) of mask pixels of ``image`` whose hue is more than 90 degrees from the
    reference's mean colour.

    image, reference: (S, S, 3) BGR, float32 in [0, 1] or uint8; mask: (S, S), > 0.5 counts.
    Hue is the CIE L*a*b* angle atan2(b*, a*); only pixels with a visible colour (chroma >=
    ``min_chroma``, about two just-noticeable differences) can flip. Measured against the mean
    skin colour of the frame's face (the reference), not pixel by pixel: the swapped face is
    another person, whose features do not lie on the original's pixels. The reference's own share
    is the baseline a colour transfer is held to.
    """
    def lab(picture: np.ndarray) -> np.ndarray:
        picture = picture.astype(np.float32) / 255.0 if picture.dtype == np.uint8 else picture.astype(np.float32)
        return cv2.cvtColor(picture, cv2.COLOR_BGR2LAB)   # OpenCV clamps float input to [0, 1] itself

    inside = mask > 0.5
    if not inside.any():
        return 0.0
    mean_colour = lab(reference)[inside][:, 1:].mean(axis=0)
    if np.hypot(*mean_colour) < 1e-6:
        return 0.0
    colours = lab(image)[inside][:, 1:]
    visible = np.hypot(colours[:, 0], colours[:, 1]) >= min_chroma
    opposite = (colours * mean_colour).sum(axis=1) < 0.0  # more than 90 degrees apart
    return float((visible & opposite).mean())


def luminance_grey(linear: np.ndarray) -> np.ndarray:
    """The sRGB value of the grey with each colour's luminance: linear-light BGR (S, S, 3) ->
    float32 (S, S) in [0, 1] (Rec. 709 weights; luminance over 1 is white)."""
    return linear_to_srgb(np.clip(cv2.transform(linear, _LUMINANCE_BGR), 0.0, 1.0))


def illuminant_transfer(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Give ``swapped`` the light of ``original``: per-channel gains in linear light (see module doc).

    swapped, original: float32 (S, S, 3) BGR in [0, 1]; mask: float32 (S, S) in [0, 1], where the
    statistics come from (``statistics_mask``: bare skin, > 0.5 counts).
    Returns float32 (S, S, 3) BGR in [0, 1]; inside the mask its mean linear colour equals the
    original's wherever nothing had to be compressed.
    """
    swapped_linear = srgb_to_linear(swapped)
    swapped_mean, _ = masked_mean_and_deviation(swapped_linear, mask)
    original_mean, _ = masked_mean_and_deviation(srgb_to_linear(original), mask)
    gains = np.clip(original_mean / np.maximum(swapped_mean, 1e-6), 1.0 / _MAX_GAIN, _MAX_GAIN)
    luminance = _LUMINANCE_BGR[0]
    exposure = float(np.clip((original_mean * luminance).sum() / max(float((swapped_mean * luminance).sum()), 1e-6),
                             1.0 / _MAX_GAIN, _MAX_GAIN))
    trust = max(0.0, 1.0 - clipped_share(original, mask) / _CLIPPED_DISTRUST)
    gains = exposure * (gains / exposure) ** trust
    lit = _scale_channels(swapped_linear, gains)
    return lift_blacks(compress_gamut(linear_to_srgb(lit), luminance_grey(lit)[..., None]))


def reinhard_transfer(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Move the L*a*b* mean/std of ``swapped`` onto those of ``original`` inside ``mask``.

    swapped, original: float32 (S, S, 3) BGR in [0, 1]; mask: float32 (S, S) in [0, 1].
    Returns float32 (S, S, 3) BGR in [0, 1] (out-of-gamut colours compressed, see module doc).
    """
    swapped_lab = cv2.cvtColor(swapped, cv2.COLOR_BGR2LAB)
    original_lab = cv2.cvtColor(original, cv2.COLOR_BGR2LAB)
    swapped_mean, swapped_std = masked_mean_and_deviation(swapped_lab, mask)
    original_mean, original_std = masked_mean_and_deviation(original_lab, mask)
    scale = np.where(swapped_std > _MIN_STANDARD_DEVIATION,
                     original_std / np.maximum(swapped_std, _MIN_STANDARD_DEVIATION), 1.0)
    offset = original_mean - swapped_mean * scale
    corrected_lab = swapped_lab * scale.astype(np.float32)
    corrected_lab += offset.astype(np.float32)
    np.clip(corrected_lab[..., 0], 0.0, 100.0, out=corrected_lab[..., 0])
    return lift_blacks(compress_gamut(lab_to_bgr_unclipped(corrected_lab), lightness_to_grey(corrected_lab[..., :1])))


def average_transfer(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift the mean BGR colour of ``swapped`` inside ``mask`` onto that of ``original``.

    swapped, original: float32 (S, S, 3) BGR in [0, 1]; mask: float32 (S, S) in [0, 1].
    Returns float32 (S, S, 3) BGR in [0, 1].
    """
    swapped_mean, _ = masked_mean_and_deviation(swapped, mask)
    original_mean, _ = masked_mean_and_deviation(original, mask)
    corrected = swapped + (original_mean - swapped_mean).astype(np.float32)
    return np.clip(corrected, 0.0, 1.0, out=corrected)


def transfer_color(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray, mode: str = "illuminant") -> np.ndarray:
    """Colour-correct the swapped face towards the original face crop.

    swapped: float32 (S, S, 3) BGR in [0, 1] (the decoder's output);
    original: float32 (S, S, 3) BGR in [0, 1] (the aligned crop the model was given);
    mask: float32 (S, S) in [0, 1]: where statistics are taken (``statistics_mask``: bare skin);
    mode: one of ``COLOR_MODES``.
    Returns float32 (S, S, 3) BGR in [0, 1]; ``"none"`` returns ``swapped`` itself.
    """
    if swapped.shape != original.shape or swapped.shape[:2] != mask.shape:
        raise ValueError(f"shapes do not match: swapped {swapped.shape}, original {original.shape}, mask {mask.shape}")
    if mode == "illuminant":
        return illuminant_transfer(swapped, original, mask)
    if mode == "reinhard":
        return reinhard_transfer(swapped, original, mask)
    if mode == "average":
        return average_transfer(swapped, original, mask)
    if mode == "none":
        return swapped
    raise InputError(f"unknown colour mode {mode!r}: expected one of {', '.join(COLOR_MODES)}")
