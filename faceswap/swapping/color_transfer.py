"""Colour correction of a swapped face towards the face it replaces.

The decoder paints the face in the colours of the identity it was trained on; before the face is
blended back, its colour statistics are moved to those of the original face crop so that skin tone
and lighting match the frame. Statistics are computed only inside the face mask, weighted by it,
so hair and background in the crop do not pull the result.

Modes:

- ``"reinhard"`` (default): Reinhard et al. 2001 — per-channel mean and standard deviation
  transfer in CIE L*a*b*.
- ``"average"``: shift the mean BGR colour of the swapped face onto the original's.
- ``"none"``: leave the swapped face as the model produced it.

All images here are model-crop sized: ``float32 (S, S, 3)`` **BGR** in [0, 1]; masks are
``float32 (S, S)`` in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.errors import InputError

COLOR_MODES = ("reinhard", "average", "none")

# A channel whose spread is (almost) zero inside the mask cannot be rescaled meaningfully.
_MIN_STANDARD_DEVIATION = 1e-3


def masked_mean_and_deviation(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``image`` weighted by ``mask``.

    image: float32 (S, S, C), any range; mask: float32 (S, S) weights in [0, 1].
    Returns two float32 (C,) arrays. An all-zero mask falls back to the whole image.
    """
    pixels = image.reshape(-1, image.shape[-1])
    weights = mask.reshape(-1).astype(np.float32, copy=False)
    total = float(weights.sum())
    if total <= 1e-6:
        return pixels.mean(axis=0), pixels.std(axis=0)
    mean = (weights @ pixels) / total
    centred = pixels - mean
    np.square(centred, out=centred)
    variance = (weights @ centred) / total
    return mean, np.sqrt(np.maximum(variance, 0.0))


def reinhard_transfer(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Move the L*a*b* mean/std of ``swapped`` onto those of ``original`` inside ``mask``.

    swapped, original: float32 (S, S, 3) BGR in [0, 1]; mask: float32 (S, S) in [0, 1].
    Returns float32 (S, S, 3) BGR in [0, 1].
    """
    swapped_lab = cv2.cvtColor(swapped, cv2.COLOR_BGR2LAB)
    original_lab = cv2.cvtColor(original, cv2.COLOR_BGR2LAB)
    swapped_mean, swapped_std = masked_mean_and_deviation(swapped_lab, mask)
    original_mean, original_std = masked_mean_and_deviation(original_lab, mask)
    scale = np.where(swapped_std > _MIN_STANDARD_DEVIATION, original_std / np.maximum(swapped_std, _MIN_STANDARD_DEVIATION), 1.0)
    offset = original_mean - swapped_mean * scale
    corrected_lab = swapped_lab * scale.astype(np.float32)
    corrected_lab += offset.astype(np.float32)
    # Keep L* and a*/b* inside the gamut OpenCV's float conversion expects.
    np.clip(corrected_lab[..., 0], 0.0, 100.0, out=corrected_lab[..., 0])
    np.clip(corrected_lab[..., 1:], -127.0, 127.0, out=corrected_lab[..., 1:])
    corrected = cv2.cvtColor(corrected_lab, cv2.COLOR_LAB2BGR)
    return np.clip(corrected, 0.0, 1.0, out=corrected)


def average_transfer(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift the mean BGR colour of ``swapped`` inside ``mask`` onto that of ``original``.

    swapped, original: float32 (S, S, 3) BGR in [0, 1]; mask: float32 (S, S) in [0, 1].
    Returns float32 (S, S, 3) BGR in [0, 1].
    """
    swapped_mean, _ = masked_mean_and_deviation(swapped, mask)
    original_mean, _ = masked_mean_and_deviation(original, mask)
    corrected = swapped + (original_mean - swapped_mean).astype(np.float32)
    return np.clip(corrected, 0.0, 1.0, out=corrected)


def transfer_color(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray, mode: str = "reinhard") -> np.ndarray:
    """Colour-correct the swapped face towards the original face crop.

    swapped: float32 (S, S, 3) BGR in [0, 1] (the decoder's output);
    original: float32 (S, S, 3) BGR in [0, 1] (the aligned crop the model was given);
    mask: float32 (S, S) in [0, 1] (the face region; statistics are weighted by it);
    mode: one of ``COLOR_MODES``.
    Returns float32 (S, S, 3) BGR in [0, 1]; ``"none"`` returns ``swapped`` itself.
    """
    if swapped.shape != original.shape or swapped.shape[:2] != mask.shape:
        raise ValueError(f"shapes do not match: swapped {swapped.shape}, original {original.shape}, mask {mask.shape}")
    if mode == "reinhard":
        return reinhard_transfer(swapped, original, mask)
    if mode == "average":
        return average_transfer(swapped, original, mask)
    if mode == "none":
        return swapped
    raise InputError(f"unknown colour mode {mode!r}: expected one of {', '.join(COLOR_MODES)}")
