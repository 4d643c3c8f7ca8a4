"""Detail: variance of the Laplacian inside the inner face.

The variance of the Laplacian is the classic focus / blur measure (Pech-Pacheco et al., "Diatom
autofocusing in brightfield microscopy: a comparative study", ICPR 2000): a sharp face has strong
second derivatives, a soft one does not. It is measured on the grey frame (3x3 Laplacian, float64)
over the *inner face* — the convex hull of the classic landmarks 17-67 (brows, eyes, nose, mouth) —
so hair, background and the blended border do not count.

Detail of a swap = output / input, frame by frame, then the median over the clip. The resolution
ceiling is the same ratio for the pass-through model (faceswap.evaluation.passthrough): what the
pipeline keeps when the model changes nothing.
"""

from __future__ import annotations

import cv2
import numpy as np

INNER_FACE = slice(17, 68)


def inner_face_mask(landmarks68: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """bool (H, W) mask of the convex hull of landmarks 17-67 ((68, 2) px) in a frame of ``shape``."""
    mask = np.zeros(shape[:2], dtype=np.uint8)
    hull = cv2.convexHull(np.round(np.asarray(landmarks68, dtype=np.float64)[INNER_FACE]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def laplacian_variance(image: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of ``image`` (uint8 (H, W, 3) BGR or (H, W) grey) over ``mask``
    (bool (H, W)); grey levels 0-255, so the unit is grey level squared. NaN for an empty mask."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if not mask.any():
        return float("nan")
    return float(cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F)[mask].var())
