"""MediaPipe's face landmark model, run directly: 468 landmarks of a face in a rotated square region.

MediaPipe's FaceMesh in tracking mode is a whole graph per video stream (~40 MB, its own threads,
~80 ms to build): too dear to hold for every live stream of a prediction worker. The model inside
it (``face_landmark.tflite``, shipped in the mediapipe wheel) is small and stateless, so one
``FaceLandmarkModel`` per process serves every stream; a stream keeps only its region of
interest (``Roi``: four numbers). faceswap.faces.detection.FaceTracker builds the tracking loop
on it (detect every N frames, follow the landmarks in between).

The region follows MediaPipe's own face graphs (mediapipe/modules/face_landmark/
face_landmark_front_cpu.pbtxt, face_detection_front_detection_to_roi.pbtxt and
face_landmark_landmarks_to_roi.pbtxt, 0.10.x): a square of 1.5x the long side of the detection
box or of the landmarks' bounding box, turned so that the line from landmark 33 to landmark 263
(the outer eye corners) is horizontal; the square is sampled to 192x192 RGB in [0, 1] (border
pixels replicated), and the model gives 468 (x, y, z) points in those 192 px plus a face-presence
logit (sigmoid -> probability; MediaPipe drops the track below ``min_tracking_confidence``).

Images are RGB uint8 (H, W, 3); coordinates are pixels (x, y) of that image; angles are radians,
positive turning clockwise on screen (y points down), as in MediaPipe's NormalizedRect.rotation.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

INPUT_SIZE = 192          # the model's input side, px
ROI_SCALE = 1.5           # region side / face size (MediaPipe's RectTransformationCalculator scale)
EYE_CORNERS = (33, 263)   # mesh indices whose line sets the region's rotation (outer eye corners)


@dataclass(frozen=True)
class Roi:
    """A square region of an image: centre (cx, cy) px, side px, rotation (radians, clockwise)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    def matrix(self, size: int = INPUT_SIZE) -> np.ndarray:
        """float64 (2, 3) affine map from the region's ``size`` x ``size`` tensor px to image px."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        scale = self.side / size
        half = self.side / 2.0
        return np.array([[cos * scale, -sin * scale, self.cx - cos * half + sin * half],
                         [sin * scale, cos * scale, self.cy - sin * half - cos * half]], dtype=np.float64)


def roi_from_box(box: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """Upright square region around a detection box (x0, y0, x1, y1 px), ``scale`` x its long side."""
    x0, y0, x1, y1 = (float(value) for value in box[:4])
    return Roi((x0 + x1) / 2.0, (y0 + y1) / 2.0, max(x1 - x0, y1 - y0) * scale, 0.0)


def roi_from_mesh(mesh: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """Region for the next frame from a (468, 2) px mesh: the bounding box of the points in the
    frame turned level with the eye corners, centred on it, ``scale`` x its long side."""
    start, end = mesh[EYE_CORNERS[0]], mesh[EYE_CORNERS[1]]
    angle = -math.atan2(-(float(end[1]) - float(start[1])), float(end[0]) - float(start[0]))
    box = np.array([mesh[:, 0].min(), mesh[:, 1].min(), mesh[:, 0].max(), mesh[:, 1].max()], dtype=np.float64)
    # MediaPipe (DetectionsToRectsCalculator) takes the axis-aligned box's centre and size, then turns it.
    return Roi((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0, max(box[2] - box[0], box[3] - box[1]) * scale,
               angle)


def mediapipe_model_path(module: str, name: str) -> Path:
    """``modules/<module>/<name>`` inside the installed mediapipe wheel (its bundled models)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"mediapipe is not installed: it ships {name}")
    return Path(list(spec.submodule_search_locations)[0]) / "modules" / module / name


def model_path() -> Path:
    """face_landmark.tflite inside the installed mediapipe wheel."""
    return mediapipe_model_path("face_landmark", "face_landmark.tflite")


class PerProcess:
    """One object per process, built by ``factory`` on first use (a forked child builds its own)."""

    def __init__(self, factory):
        self._factory = factory
        self._made: tuple[int, object] | None = None   # (process id, object)
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._made is None or self._made[0] != os.getpid():
                self._made = (os.getpid(), self._factory())
            return self._made[1]


def tflite_interpreter(path: Path, num_threads: int = 1):
    """(interpreter with its tensors allocated, its input's tensor index, {element count: tensor
    index} of its outputs) for the .tflite file at ``path`` (ai-edge-litert)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=max(1, num_threads))
    interpreter.allocate_tensors()
    outputs = {int(np.prod(detail["shape"])): detail["index"] for detail in interpreter.get_output_details()}
    return interpreter, interpreter.get_input_details()[0]["index"], outputs


class FaceLandmarkModel:
    """One face_landmark.tflite interpreter (one thread) shared by every stream of a process;
    ``run`` serialises calls with a lock. ~1.3 ms CPU per face on the 2-core machine."""

    def __init__(self, path: str | Path | None = None, num_threads: int = 1):
        self.path = Path(path) if path is not None else model_path()
        self._interpreter, self._input, outputs = tflite_interpreter(self.path, num_threads)
        self._landmarks, self._presence = outputs[468 * 3], outputs[1]
        self._tensor = np.empty((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
        self._lock = threading.Lock()

    def run(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """(mesh float32 (468, 2) image px, face presence in [0, 1]) of the face in ``roi`` of ``rgb``
        (RGB uint8 (H, W, 3)). Only the region is sampled (192x192), never the whole image."""
        mesh, presence = self.run_3d(rgb, roi)
        return np.ascontiguousarray(mesh[:, :2]), presence

    def run_3d(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """As ``run``, with each point's depth: mesh float32 (468, 3), x and y image px, z relative
        depth in image px too (the model's z scaled as x is; smaller is nearer the camera, 0 near
        the face's centre, as in MediaPipe's face mesh)."""
        forward = roi.matrix()
        crop = cv2.warpAffine(rgb, forward, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        with self._lock:
            np.multiply(crop, np.float32(1.0 / 255.0), out=self._tensor[0])
            self._interpreter.set_tensor(self._input, self._tensor)
            self._interpreter.invoke()
            points = self._interpreter.get_tensor(self._landmarks).reshape(468, 3).astype(np.float64)
            logit = float(self._interpreter.get_tensor(self._presence).reshape(-1)[0])
        mesh = np.empty((468, 3), dtype=np.float32)
        mesh[:, :2] = points[:, :2] @ forward[:, :2].T + forward[:, 2]
        mesh[:, 2] = points[:, 2] * (roi.side / INPUT_SIZE)
        presence = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))
        return mesh, presence



_shared = PerProcess(lambda: FaceLandmarkModel())


def shared_landmark_model() -> FaceLandmarkModel:
    """The process's FaceLandmarkModel, built on first use (a forked child builds its own)."""
    return _shared.get()
