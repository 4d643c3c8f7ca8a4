"""Expression from the 68 classic landmarks: how open the mouth and the eyes are.

Both are distances between landmarks divided by the inter-ocular distance (the distance of the eye
centres, faceswap.faces.landmarks), so they do not depend on how large the face is in the frame:

* mouth opening: mean gap between the inner lips (points 61-67, 62-66, 63-65);
* eye opening: mean gap between the upper and lower lids of both eyes (37-41, 38-40, 43-47, 44-46),
  the vertical part of Soukupova & Cech's eye aspect ratio ("Real-Time Eye Blink Detection using
  Facial Landmarks", CVWW 2016).

Over a clip the benchmark correlates the input's and the output's series (Pearson): 1.0 = every
opening and closing of the input comes out in the output.
"""

from __future__ import annotations

import numpy as np

from faceswap.faces.landmarks import inter_ocular_distance
from faceswap.faces.masks import EYE_LIDS

MOUTH_PAIRS = ((61, 67), (62, 66), (63, 65))
EYE_PAIRS = EYE_LIDS[0] + EYE_LIDS[1]   # (upper, lower) lid points: 37-41, 38-40, 43-47, 44-46


def _mean_gap(landmarks68: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> float:
    points = np.asarray(landmarks68, dtype=np.float64)
    gaps = [np.linalg.norm(points[upper] - points[lower]) for upper, lower in pairs]
    return float(np.mean(gaps) / max(inter_ocular_distance(points), 1e-6))


def mouth_opening(landmarks68: np.ndarray) -> float:
    """Inner-lip gap over the inter-ocular distance, from (68, 2) px landmarks (0 = closed)."""
    return _mean_gap(landmarks68, MOUTH_PAIRS)


def eye_opening(landmarks68: np.ndarray) -> float:
    """Lid gap of both eyes over the inter-ocular distance, from (68, 2) px landmarks."""
    return _mean_gap(landmarks68, EYE_PAIRS)


def correlation(first, second) -> float | None:
    """Pearson correlation of two equally long series; None with fewer than 3 samples or when either
    series is constant (no motion to follow)."""
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    if first.size < 3 or first.size != second.size or first.std() < 1e-9 or second.std() < 1e-9:
        return None
    return float(np.corrcoef(first, second)[0, 1])
