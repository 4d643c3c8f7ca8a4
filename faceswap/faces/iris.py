"""Where the eyes look: MediaPipe's iris landmark model, and gaze as a position inside the eye.

MediaPipe's iris model (``iris_landmark.tflite``, shipped in the mediapipe wheel; Ablavatski et
al., "Real-time Pupil Tracking from Monocular Video for Digital Puppetry", CVPR workshops 2020)
takes a 64x64 RGB crop of one eye in [0, 1] and gives 71 eye contour points and 5 iris points (the
centre, then four on its rim). The crop is MediaPipe's iris graphs' (mediapipe/modules/
iris_landmark/iris_landmark_left_and_right_cpu.pbtxt and iris_landmark_landmarks_to_roi.pbtxt,
0.10.x) but for its side: a square 2.3x the eye's size, centred between the eye's two corners and
turned level with them, the size here the corners' distance (MediaPipe takes the long side of
their axis-aligned box: the same on a level eye, up to 1.4x less on a rolled one, so a rolled eye
keeps its scale here); the eye on the image's right (mesh points 362 and 263) is mirrored before
the model, which was trained on the other eye.

Gaze is given per eye as the iris centre in the eye's own frame: ``(along, across)``, the position
along the line from the eye's image-left corner to its image-right corner and across it (down
positive), both in units of the corners' distance, so a face of any size or roll reads the same.
Looking straight ahead puts the iris near ``along`` 0.5.

Images are RGB uint8 (H, W, 3); points are pixels (x, y) of that image.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import cv2
import numpy as np

from faceswap.faces.landmark_model import PerProcess, Roi, mediapipe_model_path, tflite_interpreter
from faceswap.faces.landmarks import mesh_to_68
from faceswap.faces.masks import EYE_CLOSING_RATIO, paired_eye_ratios

INPUT_SIZE = 64            # the model's input side, px
ROI_SCALE = 2.3            # region side / distance between the eye's corners (MediaPipe's)
# Face-mesh indices of each eye's corners, image-left then image-right, and whether that eye is
# mirrored for the model: the eye on the image's left (the person's right eye), then the other.
EYE_CORNERS = ((33, 133, False), (362, 263, True))
# An iris whose radius is outside this share of the eye's width was not found (a closed eye, a
# reflection): real irises are ~0.2-0.3 of the corners' distance.
IRIS_RADIUS_SHARE = (0.1, 0.45)


def model_path() -> Path:
    """iris_landmark.tflite inside the installed mediapipe wheel."""
    return mediapipe_model_path("iris_landmark", "iris_landmark.tflite")


def eye_roi(left_corner: np.ndarray, right_corner: np.ndarray) -> Roi:
    """The model's region for an eye from its image-left and image-right corners (px)."""
    left = np.asarray(left_corner, dtype=np.float64)[:2]
    right = np.asarray(right_corner, dtype=np.float64)[:2]
    centre = (left + right) / 2.0
    angle = math.atan2(float(right[1] - left[1]), float(right[0] - left[0]))
    return Roi(float(centre[0]), float(centre[1]), max(float(np.linalg.norm(right - left)), 1.0) * ROI_SCALE, angle)


class IrisModel:
    """One iris_landmark.tflite interpreter (one thread) shared by every stream of a process;
    ``run`` serialises calls with a lock."""

    def __init__(self, path: str | Path | None = None, num_threads: int = 1):
        self.path = Path(path) if path is not None else model_path()
        self._interpreter, self._input, outputs = tflite_interpreter(self.path, num_threads)
        self._iris = outputs[5 * 3]
        self._tensor = np.empty((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
        self._lock = threading.Lock()

    def run(self, rgb: np.ndarray, left_corner: np.ndarray, right_corner: np.ndarray,
            mirrored: bool) -> np.ndarray:
        """The iris of the eye between ``left_corner`` and ``right_corner`` (image px) of ``rgb``
        (RGB uint8 (H, W, 3)): float64 (5, 2) image px, the centre then four rim points.
        ``mirrored``: the eye on the image's right (MediaPipe mirrors it for the model)."""
        forward = eye_roi(left_corner, right_corner).matrix(INPUT_SIZE)
        crop = cv2.warpAffine(rgb, forward, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        if mirrored:
            crop = crop[:, ::-1]
        with self._lock:
            np.multiply(crop, np.float32(1.0 / 255.0), out=self._tensor[0])
            self._interpreter.set_tensor(self._input, self._tensor)
            self._interpreter.invoke()
            points = self._interpreter.get_tensor(self._iris).reshape(5, 3)[:, :2].astype(np.float64)
        if mirrored:
            points[:, 0] = INPUT_SIZE - points[:, 0]
        return points @ forward[:, :2].T + forward[:, 2]


def eye_frame(left_corner: np.ndarray, right_corner: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(origin, 2x2 rows: unit along the corners' line and unit across it (down), the corners'
    distance px) of an eye."""
    left = np.asarray(left_corner, dtype=np.float64)[:2]
    right = np.asarray(right_corner, dtype=np.float64)[:2]
    along = right - left
    width = max(float(np.linalg.norm(along)), 1e-6)
    along = along / width
    return left, np.array([along, [-along[1], along[0]]]), width


def gaze_of(points: np.ndarray, left_corner: np.ndarray, right_corner: np.ndarray) -> np.ndarray:
    """Points (px: an iris centre (2,), or (N, 2)) as (along, across) in the eye's frame, in eye
    widths: float64 of the same shape."""
    origin, axes, width = eye_frame(left_corner, right_corner)
    return (np.asarray(points, dtype=np.float64)[..., :2] - origin) @ axes.T / width


def point_at_gaze(gaze: np.ndarray, left_corner: np.ndarray, right_corner: np.ndarray) -> np.ndarray:
    """The inverse of ``gaze_of``: the px points ((2,) or (N, 2)) at ``gaze`` (along, across) in this eye."""
    origin, axes, width = eye_frame(left_corner, right_corner)
    return origin + width * (np.asarray(gaze, dtype=np.float64) @ axes)


def irises(rgb: np.ndarray, mesh: np.ndarray, model: "IrisModel | None" = None) -> list[np.ndarray | None]:
    """Both eyes' irises of the face with ``mesh`` ((468, 2+) image px) in ``rgb`` (RGB uint8):
    per eye in ``EYE_CORNERS`` order, float64 (5, 2) image px, or None where there is no iris to
    read: an eye closed or nearly (lid gap under ``EYE_CLOSING_RATIO`` of its width, the two eyes
    paired as the blink region pairs them (faceswap.faces.masks.paired_eye_ratios), where the
    merge's blink region starts; the iris model answers on a shut eye too) or an iris whose radius
    is outside ``IRIS_RADIUS_SHARE`` of the eye's width."""
    model = model or shared_iris_model()
    openings = paired_eye_ratios(mesh_to_68(np.asarray(mesh)[:, :2]))
    found: list[np.ndarray | None] = []
    for (left, right, mirrored), opening in zip(EYE_CORNERS, openings):
        if not opening >= EYE_CLOSING_RATIO:   # also NaN
            found.append(None)
            continue
        points = model.run(rgb, mesh[left], mesh[right], mirrored)
        width = float(np.linalg.norm(np.asarray(mesh[right][:2], np.float64) - np.asarray(mesh[left][:2], np.float64)))
        radius = float(np.linalg.norm(points[1:] - points[0], axis=1).mean())
        low, high = IRIS_RADIUS_SHARE
        ok = np.all(np.isfinite(points)) and width > 0 and low * width <= radius <= high * width
        found.append(points if ok else None)
    return found


def gazes(rgb: np.ndarray, mesh: np.ndarray, model: "IrisModel | None" = None) -> list[np.ndarray | None]:
    """Both eyes' gaze (``gaze_of``) of the face with ``mesh`` in ``rgb``; None where not found."""
    return [None if iris is None else gaze_of(iris[0], mesh[left], mesh[right])
            for iris, (left, right, _) in zip(irises(rgb, mesh, model), EYE_CORNERS)]


_shared = PerProcess(lambda: IrisModel())


def shared_iris_model() -> IrisModel:
    """The process's IrisModel, built on first use (a forked child builds its own)."""
    return _shared.get()
