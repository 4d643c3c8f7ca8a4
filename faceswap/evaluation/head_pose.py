"""Head pose (yaw, pitch, roll in degrees) from 2-D landmarks and a 3-D mean face.

``cv2.solvePnP`` fits the rotation and translation that project six points of a generic 3-D face
(nose tip, chin, outer eye corners, mouth corners; the model of Mallick, "Head Pose Estimation
using OpenCV and Dlib", LearnOpenCV 2016, in arbitrary units) onto the matching classic landmarks
(30, 8, 36, 45, 48, 54), with a pinhole camera whose focal length is the frame's larger side and
whose centre is the frame's centre. The rotation is split into Euler angles with
``cv2.RQDecomp3x3``.

Axes follow the image: x right, y down, z away from the camera, so a face looking straight at the
camera has yaw = pitch = roll ~ 0. The benchmark compares input and output poses (mean absolute
difference per angle) — the "pose error" of the DeepFaceLab paper (Perov et al., 2020, table 1:
DeepFakes 4.75, DeepFaceLab 1.12 degrees).
"""

from __future__ import annotations

import cv2
import numpy as np

POSE_LANDMARKS = (30, 8, 36, 45, 48, 54)
# nose tip, chin, outer corner of the eye on the image's left / right, mouth corner left / right
MEAN_FACE_3D = np.array([
    (0.0, 0.0, 0.0),
    (0.0, 330.0, 65.0),
    (-225.0, -170.0, 135.0),
    (225.0, -170.0, 135.0),
    (-150.0, 150.0, 125.0),
    (150.0, 150.0, 125.0),
], dtype=np.float64)
ANGLES = ("yaw", "pitch", "roll")


def head_pose(landmarks68: np.ndarray, frame_shape: tuple[int, ...]) -> dict[str, float] | None:
    """{'yaw', 'pitch', 'roll'} in degrees from (68, 2) px landmarks of a frame of ``frame_shape``
    (H, W[, C]); None when solvePnP finds no pose. Mirroring the image left-right flips the sign of
    yaw and roll and keeps pitch."""
    height, width = frame_shape[:2]
    focal = float(max(height, width))
    camera = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    image_points = np.asarray(landmarks68, dtype=np.float64)[list(POSE_LANDMARKS)]
    # Start from a frontal face at the distance its eye-corner span implies: without a guess the
    # iterative solver sometimes lands in the mirrored solution (roll ~ 180 degrees).
    span = max(float(np.linalg.norm(image_points[3] - image_points[2])), 1.0)
    depth = focal * float(MEAN_FACE_3D[3, 0] - MEAN_FACE_3D[2, 0]) / span
    rotation = np.zeros((3, 1))
    translation = np.array([[(image_points[0, 0] - width / 2.0) * depth / focal],
                            [(image_points[0, 1] - height / 2.0) * depth / focal], [depth]])
    ok, rotation, _translation = cv2.solvePnP(MEAN_FACE_3D, image_points, camera, np.zeros(4), rotation,
                                              translation, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return None
    matrix, _ = cv2.Rodrigues(rotation)
    angles, *_ = cv2.RQDecomp3x3(matrix)
    pitch, yaw, roll = (float(angle) for angle in angles)
    return {"yaw": -yaw, "pitch": -pitch, "roll": roll}


def pose_difference(first: dict[str, float], second: dict[str, float]) -> dict[str, float]:
    """Absolute difference per angle, degrees, wrapped into [0, 180]."""
    return {angle: float(abs((first[angle] - second[angle] + 180.0) % 360.0 - 180.0)) for angle in ANGLES}
