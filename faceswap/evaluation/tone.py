"""Tone error: how far the swapped face's skin tone and light depart from the user's, region by region.

A swap can match the user's mean skin colour and still carry patches of the target's own
colouring — the pale forehead or the shine of her footage's light — which read as blotches. This
measures them: input and output are cut out as the extractor aligns a face (256 px,
faceswap.faces.alignment.EXTRACT_LAYOUT), converted to CIE L*a*b*, averaged over the bare face
(the blending face mask without brows, eyes and mouth) with a Gaussian of a tenth of the crop
(a normalised convolution, so features do not bleed in), and compared: the CIE76 colour
difference (Delta E*ab, about 2.3 = just noticeable, Sharma 2003) at every pixel of the bare
face, of which the 90th percentile is the measure — a patch over a tenth of the face shows in it
even where the rest matches. Detail finer than the blur does not count; a global colour shift does.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.faces.alignment import EXTRACT_LAYOUT, alignment_matrix, transform_points, warp_to_crop
from faceswap.faces.masks import face_mask, features_mask

BLUR_SHARE = 0.1


def _local_lab(crop: np.ndarray, weights: np.ndarray, blurred_weights: np.ndarray, sigma: float) -> np.ndarray:
    lab = cv2.cvtColor(crop.astype(np.float32) * np.float32(1.0 / 255.0), cv2.COLOR_BGR2LAB)
    return cv2.GaussianBlur(lab * weights[..., None], (0, 0), sigma) / np.maximum(blurred_weights, 1e-6)[..., None]


def tone_error(frame: np.ndarray, output: np.ndarray, landmarks68: np.ndarray) -> float:
    """90th percentile of Delta E*ab between the blurred skin tone of ``frame`` and ``output`` over the bare face.

    frame, output: uint8 (H, W, 3) BGR of the same shape (the input and the swapped frame);
    landmarks68: (68, 2) float px of the input's face. Returns a float >= 0 (CIE76 units), NaN
    when the bare face is empty (a face cut by the frame's border) or the landmarks are not finite
    or degenerate. Raises ValueError when the two frames' shapes differ.
    """
    if frame.shape != output.shape:
        raise ValueError(f"frame and output shapes differ: {frame.shape} and {output.shape}")
    landmarks68 = np.asarray(landmarks68, dtype=np.float64)
    if not np.all(np.isfinite(landmarks68)) or np.ptp(landmarks68, axis=0).min() <= 0:
        return float("nan")
    size = EXTRACT_LAYOUT.size
    matrix = alignment_matrix(landmarks68, EXTRACT_LAYOUT)
    if not np.all(np.isfinite(matrix)):
        return float("nan")
    points = transform_points(landmarks68, matrix)
    bare = (face_mask(points, size) > 0.5) & (features_mask(points, size) == 0)
    inside = cv2.warpAffine(np.full(frame.shape[:2], 255, np.uint8), matrix, (size, size), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    bare &= inside > 0
    if not bare.any():
        return float("nan")
    weights = bare.astype(np.float32)
    sigma = BLUR_SHARE * size
    blurred = cv2.GaussianBlur(weights, (0, 0), sigma)
    before = _local_lab(warp_to_crop(frame, matrix, size), weights, blurred, sigma)
    after = _local_lab(warp_to_crop(output, matrix, size), weights, blurred, sigma)
    difference = np.sqrt(((before - after) ** 2).sum(axis=-1))
    return float(np.percentile(difference[bare], 90))
