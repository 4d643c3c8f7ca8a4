"""Optional sharpening of the swapped face before it goes back into the frame.

The model paints a small crop (64 px for the default model) that is enlarged two to five times
when pasted back into a webcam frame; the enlargement (any interpolation kernel) and the model's
own blur soften the face. An unsharp mask (the classic darkroom technique; as faceswap's
"sharpen" and DeepFaceLive's "face sharpen" offer) restores the contrast of the finest details
the crop does have:

    sharpened = face + amount * (face - GaussianBlur(face, sigma))

It is applied in crop pixels, where it is cheap (one 64x64 blur), and only as far as the crop
is enlarged: the amount is scaled by ``magnification - 1.5``, clipped to [0, 1], so a face the
paste enlarges 1.5 times or less (a small face in the frame) is not sharpened at all and the full
amount applies from 2.5 times on — sharpening that invents edges is not detail. Both the ramp and
the default amount are measured (docs/merge-settings.md): the pass-through output keeps less
detail than the input at every magnification, on the sample stills and clips.

Faces are ``float32 (S, S, 3)`` BGR in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.faces.alignment import crop_magnification

# Blur of the unsharp mask, in crop px: the crop's finest scale (a 64 px crop of a 256 px face).
SHARPEN_SIGMA = 1.0
# Magnification below which nothing is sharpened, and the span over which the amount ramps up.
_RAMP_START, _RAMP_SPAN = 1.5, 1.0


def paste_magnification(matrix: np.ndarray) -> float:
    """How many frame px one crop px covers when the crop goes back (image -> crop ``matrix`` (2, 3))."""
    return crop_magnification(matrix)


def unsharp_mask(face: np.ndarray, amount: float, sigma: float = SHARPEN_SIGMA) -> np.ndarray:
    """``face + amount * (face - blur(face))``, clipped to [0, 1].

    face: float32 (S, S, 3) BGR in [0, 1]; amount >= 0 (0 returns ``face`` itself);
    sigma: Gaussian blur in crop px. Returns float32 (S, S, 3) in [0, 1].
    """
    if amount <= 0.0:
        return face
    blurred = cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    sharpened = cv2.addWeighted(face, 1.0 + amount, blurred, -amount, 0.0)
    return np.clip(sharpened, 0.0, 1.0, out=sharpened)


def sharpen_for_paste(face: np.ndarray, matrix: np.ndarray, amount: float) -> np.ndarray:
    """Sharpen a swapped face by ``amount`` x clip(magnification - 1.5, 0, 1) (see module doc).

    face: float32 (S, S, 3) BGR in [0, 1]; matrix: (2, 3) image -> crop, the one it goes back with;
    amount: the setting (0 = off). Returns float32 (S, S, 3) in [0, 1] (``face`` itself when off).
    """
    effective = amount * min(1.0, max(0.0, (paste_magnification(matrix) - _RAMP_START) / _RAMP_SPAN))
    return unsharp_mask(face, effective)
