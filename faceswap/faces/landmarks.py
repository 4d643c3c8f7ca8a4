"""MediaPipe's 468-point face mesh -> the classic 68-point (iBUG / dlib) layout.

The classic deepfakes alignment and masks are defined on 68 points: jaw 0-16, eyebrows 17-26,
nose 27-35, eyes 36-47, mouth 48-67, with "left/right" as seen in the image (point 36 is the
outer corner of the eye on the image's left). Both layouts use pixel (x, y) coordinates.
"""

from __future__ import annotations

import numpy as np

# For each of the 68 classic points, the index of the closest MediaPipe face-mesh vertex.
MESH_TO_68 = np.array([
    # jaw, image left -> chin -> image right (0-16)
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    # eyebrow on the image left, outer -> inner (17-21)
    70, 63, 105, 66, 107,
    # eyebrow on the image right, inner -> outer (22-26)
    336, 296, 334, 293, 300,
    # nose bridge, top -> tip (27-30)
    168, 197, 5, 4,
    # nostrils, image left -> right (31-35)
    75, 97, 2, 326, 305,
    # eye on the image left: outer corner, top, top, inner corner, bottom, bottom (36-41)
    33, 160, 158, 133, 153, 144,
    # eye on the image right: inner corner, top, top, outer corner, bottom, bottom (42-47)
    362, 385, 387, 263, 373, 380,
    # outer lips, from the left corner clockwise (48-59)
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # inner lips (60-67)
    78, 82, 13, 312, 308, 317, 14, 87,
], dtype=np.int64)

JAW = slice(0, 17)
EYEBROWS = slice(17, 27)
NOSE = slice(27, 36)
LEFT_EYE = slice(36, 42)    # eye on the image's left
RIGHT_EYE = slice(42, 48)   # eye on the image's right
MOUTH = slice(48, 68)


def mesh_to_68(mesh: np.ndarray) -> np.ndarray:
    """(468, 2) or (478, 2) mesh points in px -> (68, 2) float32 classic landmarks in px."""
    return np.asarray(mesh, dtype=np.float32)[MESH_TO_68]


def eye_centres(landmarks68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (x, y) of the eye on the image's left and right, from (68, 2) landmarks."""
    return landmarks68[LEFT_EYE].mean(axis=0), landmarks68[RIGHT_EYE].mean(axis=0)


def inter_ocular_distance(landmarks68: np.ndarray) -> float:
    """Distance in px between the two eye centres (the usual landmark-error normaliser)."""
    left, right = eye_centres(landmarks68)
    return float(np.linalg.norm(right - left))
