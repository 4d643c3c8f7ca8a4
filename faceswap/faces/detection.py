"""Face detection and landmarks with MediaPipe 0.10.21 (models ship inside the wheel).

Two MediaPipe graphs run on each frame: face detection (full-range model) says *where faces are
and how sure it is*; the face mesh gives 468 landmarks per face. A mesh is trusted only when a
confident detection overlaps it, which rejects animals that fool the mesh alone (the s25 dog
in the sample data). Landmarks are then reduced to the classic 68 points (faceswap.faces.landmarks).

Two front ends share that logic:

* ``FaceDetector`` — every frame on its own (stills, extraction, offline conversion): the
  full-range detector finds faces, the mesh runs on a crop around each. The detector sees the
  frame at 192x192, so on its own it misses faces under ~5 % of a large frame's width; when it
  finds nothing in a frame over ~1000 px, a second pass runs it on overlapping tiles sized so
  that a face of ``min_face_size`` px (the extractor's minimum, 48) fills ~7.5 % of a tile
  (the classic sliding-window remedy for small objects, e.g. Unel et al., "The Power of Tiling
  for Small Object Detection", CVPRW 2019). ``no_face_reason`` says why a frame has no face;
* ``FaceTracker`` — one video stream, MediaPipe's tracking loop with shared graphs: a detection
  starts a track (and confirms it every ``confirm_every`` frames); in between, the landmark model
  (faceswap.faces.landmark_model, one per process) runs on the region the previous frame's
  landmarks give, skipping detection (~3x less CPU per frame, the live path). A tracker holds a
  few numbers per face, not graphs, so every live stream of a worker can have one.

Input frames are BGR uint8 (H, W, 3); coordinates are pixels (x, y) of that frame.
Both serialise their calls with a lock, so one instance may be shared by threads.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from faceswap.faces.landmarks import mesh_to_68
from faceswap.settings import setting

logger = logging.getLogger(__name__)


@dataclass
class DetectionSettings:
    max_faces: int = setting(4, "most faces to find in one frame")
    min_detection_confidence: float = setting(0.5, "face-detector score below which a face is ignored")
    min_mesh_confidence: float = setting(0.5, "face-mesh confidence below which a face is ignored")
    full_range: bool = setting(True, "try MediaPipe's full-range detector (faces up to ~5 m) first, the short-range "
                                     "one (faces within ~2 m) only when it finds nothing; off: the other way round")
    fallback_min_confidence: float = setting(0.8, "score the other-range detector needs when the preferred one "
                                                  "found nothing (animals score ~0.7 there, close faces ~0.9)")
    min_overlap: float = setting(0.3, "share of a mesh's box that a detection must cover to confirm it")
    confirm_every: int = setting(15, "FaceTracker: frames between detector confirmations of a tracked face")
    small_faces: bool = setting(True, "FaceDetector: when a frame over ~1000 px shows no face, search it again in "
                                      "overlapping tiles for faces down to min_face_size (tens to hundreds of ms "
                                      "per such frame, see docs/training.md)")
    min_face_size: int = setting(48, "smallest face (box side, px) that the tiled search looks for")
    tile_min_confidence: float = setting(0.75, "face-detector score a face found in a tile needs")


@dataclass
class Face:
    """One face in a frame. ``box``: (4,) float32 x0, y0, x1, y1 px; ``score``: detector score in
    [0, 1]; ``landmarks``: (68, 2) float32 px; ``mesh``: (468, 2) float32 px."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    mesh: np.ndarray

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


def _box_of(points: np.ndarray) -> np.ndarray:
    return np.array([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()], dtype=np.float32)


def _covered_share(box: np.ndarray, cover: np.ndarray) -> float:
    """Share of ``box``'s area inside ``cover``."""
    width = max(0.0, min(box[2], cover[2]) - max(box[0], cover[0]))
    height = max(0.0, min(box[3], cover[3]) - max(box[1], cover[1]))
    area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
    return float(width * height / area)


def _rgb_frame(image: np.ndarray) -> np.ndarray:
    """The read-only RGB copy MediaPipe wants of a uint8 (H, W, 3) BGR frame; ValueError otherwise."""
    if image is None or getattr(image, "ndim", 0) != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("face detection expects a uint8 (H, W, 3) BGR image")
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    rgb.flags.writeable = False
    return rgb


def _detection_boxes(detections, width: int, height: int) -> list[tuple[np.ndarray, float]]:
    boxes = []
    for detection in detections:
        relative = detection.location_data.relative_bounding_box
        x0, y0 = relative.xmin * width, relative.ymin * height
        boxes.append((np.array([x0, y0, x0 + relative.width * width, y0 + relative.height * height],
                               dtype=np.float32), float(detection.score[0])))
    return boxes


def _mesh_points(mesh_landmarks, width: int, height: int) -> np.ndarray:
    size = np.array([width, height], dtype=np.float32)
    return np.array([(point.x, point.y) for point in mesh_landmarks.landmark], dtype=np.float32)[:468] * size


def _confirmed_faces(meshes: list[np.ndarray], boxes: list[tuple[np.ndarray, float]], min_overlap: float) -> list[Face]:
    """Faces whose mesh a detection box covers (share >= min_overlap), largest first."""
    faces = []
    for mesh in meshes:
        mesh_box = _box_of(mesh)
        best_score, best_share = 0.0, 0.0
        for box, score in boxes:
            share = _covered_share(mesh_box, box)
            if share > best_share:
                best_share, best_score = share, score
        if best_share < min_overlap:
            logger.debug("face mesh at %s has no confirming detection; ignored", mesh_box.tolist())
            continue
        faces.append(Face(box=mesh_box, score=best_score, landmarks=mesh_to_68(mesh), mesh=mesh))
    faces.sort(key=lambda face: face.area, reverse=True)
    return faces


class _TwoRangeDetection:
    """MediaPipe face detection with both models: the preferred range first, the other one only
    when the first finds nothing (the full-range model misses some close webcam faces that the
    short-range model finds; the short-range model misses faces far from the camera)."""

    def __init__(self, settings: DetectionSettings):
        mp = import_mediapipe()

        first, second = (1, 0) if settings.full_range else (0, 1)
        self._full_range_first = settings.full_range
        self._thresholds = (settings.min_detection_confidence, settings.fallback_min_confidence)
        self._graphs = [
            mp.solutions.face_detection.FaceDetection(model_selection=first,
                                                      min_detection_confidence=settings.min_detection_confidence),
            mp.solutions.face_detection.FaceDetection(model_selection=second,
                                                      min_detection_confidence=settings.fallback_min_confidence)]

    def boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Detection boxes (x0, y0, x1, y1 px) and scores in an RGB frame; call with the lock held."""
        height, width = rgb.shape[:2]
        for graph, threshold in zip(self._graphs, self._thresholds):
            boxes = [(box, score) for box, score in _detection_boxes(graph.process(rgb).detections or [], width, height)
                     if score >= threshold]
            if boxes:
                return boxes
        return []

    def close(self) -> None:
        for graph in self._graphs:
            graph.close()

    def full_range_boxes(self, rgb: np.ndarray, threshold: float) -> list[tuple[np.ndarray, float]]:
        """Boxes of the full-range model alone in an RGB image (a tile); call with the lock held."""
        graph = self._graphs[0] if self._full_range_first else self._graphs[1]
        height, width = rgb.shape[:2]
        return [(box, score) for box, score in _detection_boxes(graph.process(rgb).detections or [], width, height)
                if score >= threshold]


def _tile_origins(length: int, side: int, step: int) -> list[int]:
    """Start offsets of tiles of ``side`` px every ``step`` px that cover ``length`` px, the last flush."""
    if length <= side:
        return [0]
    origins = list(range(0, length - side, step))
    return origins + [length - side]


def _without_duplicates(boxes: list[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, float]]:
    """Boxes (best score first) none of which lies half inside a better one (overlapping tiles)."""
    kept: list[tuple[np.ndarray, float]] = []
    for box, score in sorted(boxes, key=lambda item: item[1], reverse=True):
        if all(_covered_share(box, other) < 0.5 and _covered_share(other, box) < 0.5 for other, _ in kept):
            kept.append((box, score))
    return kept


def import_mediapipe():
    """The mediapipe module, imported lazily (~1 s) and without TensorFlow.

    mediapipe 0.10.21 imports TensorFlow whenever it is installed, only for a documentation
    decorator (mediapipe/tasks/python/core/optional_dependencies.py falls back to a no-op when the
    import fails). In a prediction worker that loaded nothing else of TensorFlow this costs ~600 MB
    of resident memory and seconds of start-up, so TensorFlow is made unimportable for the length
    of mediapipe's import; a process that already imported TensorFlow (training, the SavedModel
    backend) keeps it, and TensorFlow stays importable afterwards.
    """
    import sys

    if "mediapipe" in sys.modules or "tensorflow" in sys.modules:
        import mediapipe

        return mediapipe
    sys.modules["tensorflow"] = None  # import raises ModuleNotFoundError, which mediapipe expects
    try:
        import mediapipe
        import mediapipe.tasks.python.core.optional_dependencies  # noqa: F401  (the module that asks for TensorFlow)
    finally:
        if sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
    return mediapipe


def _face_detection_graph(settings: DetectionSettings) -> _TwoRangeDetection:
    return _TwoRangeDetection(settings)


def _face_mesh_graph(settings: DetectionSettings, tracking: bool, max_faces: int):
    mp = import_mediapipe()

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=not tracking, max_num_faces=max_faces, refine_landmarks=False,
        min_detection_confidence=settings.min_mesh_confidence,
        min_tracking_confidence=settings.min_mesh_confidence)


class FaceDetector:
    """Find all faces in BGR frames, each frame on its own, largest first (see module docstring).

    The full-range detector finds the faces; the mesh then runs on a square crop around each
    detection (MediaPipe's mesh alone only sees faces that fill much of the frame).
    """

    crop_scale = 2.0   # side of the square crop around a detection, in detection-box sizes
    crop_size = 256    # the crop is resized to at most this many px before the mesh runs
    min_crop_size = 192  # smaller crops (small faces) are enlarged to this: the mesh model's input size
    tile_share = 0.075   # a face of min_face_size px fills this share of a tile's side (640 px tiles for 48)
    first_pass_share = 0.05  # the whole-frame pass finds faces down to about this share of the long side

    def __init__(self, settings: DetectionSettings | None = None):
        self.settings = settings or DetectionSettings()
        self._lock = threading.Lock()
        self._detection = _face_detection_graph(self.settings)
        self._mesh = _face_mesh_graph(self.settings, tracking=False, max_faces=1)
        self.tiles_searched = 0  # by the small-face pass, since creation (benchmarks, tests)

    def close(self) -> None:
        with self._lock:
            self._detection.close()
            self._mesh.close()

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _mesh_in_box(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Mesh (468, 2) px of the face inside ``box``, or None; call with the lock held."""
        height, width = rgb.shape[:2]
        centre = (box[:2] + box[2:]) / 2
        side = max(box[2] - box[0], box[3] - box[1]) * self.crop_scale
        x0, y0 = int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2))
        x1, y1 = int(round(centre[0] + side / 2)), int(round(centre[1] + side / 2))
        crop = rgb[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
        if crop.size == 0:
            return None
        crop = cv2.copyMakeBorder(crop, max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width),
                                  cv2.BORDER_CONSTANT, value=(0, 0, 0))
        scale = min(1.0, self.crop_size / crop.shape[0])
        if scale < 1.0:
            crop = cv2.resize(crop, (self.crop_size, self.crop_size), interpolation=cv2.INTER_AREA)
        elif crop.shape[0] < self.min_crop_size:
            scale = self.min_crop_size / crop.shape[0]
            crop = cv2.resize(crop, (self.min_crop_size, self.min_crop_size), interpolation=cv2.INTER_CUBIC)
        result = self._mesh.process(crop).multi_face_landmarks
        if not result:
            return None
        points = _mesh_points(result[0], crop.shape[1], crop.shape[0])
        return points / scale + np.array([x0, y0], dtype=np.float32)

    def detect(self, image: np.ndarray, near: list[np.ndarray] | None = None) -> list[Face]:
        """All confirmed faces in ``image`` (uint8 (H, W, 3) BGR), largest first. ``near``: boxes
        (x0, y0, x1, y1 px) of the faces of the previous frame of a video (see FaceFollower): when
        the whole-frame pass finds nothing, the small-face pass looks in one tile around each first."""
        rgb = _rgb_frame(image)
        height, width = rgb.shape[:2]
        with self._lock:
            boxes = self._detection.boxes(rgb)
            if not boxes and self.settings.small_faces:
                boxes = self._tiled_boxes(rgb, near)
            boxes.sort(key=lambda item: (item[0][2] - item[0][0]) * (item[0][3] - item[0][1]), reverse=True)
            meshes = [mesh for mesh in (self._mesh_in_box(rgb, box) for box, _ in boxes[: self.settings.max_faces])
                      if mesh is not None]
        faces = _confirmed_faces(meshes, boxes, self.settings.min_overlap)
        # two detections of one face give two meshes in the same place: keep the first
        unique: list[Face] = []
        for face in faces:
            if all(_covered_share(face.box, other.box) < 0.5 for other in unique):
                unique.append(face)
        return unique

    def tiles(self, width: int, height: int) -> list[tuple[int, int, int]]:
        """(x, y, side) of the tiles the small-face pass searches in a width x height frame; none
        when the whole-frame pass already finds faces of ``min_face_size`` px. Tiles overlap by the
        largest face the whole-frame pass can miss, so every such face lies whole in one tile."""
        minimum = self.settings.min_face_size
        longest = max(width, height)
        if longest * self.first_pass_share <= minimum:
            return []
        side = min(int(round(minimum / self.tile_share)), width, height)
        step = max(minimum, side - int(np.ceil(longest * self.first_pass_share)) - minimum // 2)
        return [(x, y, side) for y in _tile_origins(height, side, step) for x in _tile_origins(width, side, step)]

    def _tiled_boxes(self, rgb: np.ndarray, near: list[np.ndarray] | None = None) -> list[tuple[np.ndarray, float]]:
        """Detections of the full-range model in the tiles around ``near`` boxes, or when none is
        found there in every tile, in frame px; call with the lock held."""
        height, width = rgb.shape[:2]
        tiles = self.tiles(width, height)
        if tiles and near:
            side = tiles[0][2]
            around = []
            for box in near:
                centre = (np.asarray(box[:2]) + np.asarray(box[2:4])) / 2
                around.append((int(np.clip(round(centre[0] - side / 2), 0, width - side)),
                               int(np.clip(round(centre[1] - side / 2), 0, height - side)), side))
            found = self._search_tiles(rgb, around)
            if found:
                return found
        return self._search_tiles(rgb, tiles)

    def _search_tiles(self, rgb: np.ndarray, tiles: list[tuple[int, int, int]]) -> list[tuple[np.ndarray, float]]:
        self.tiles_searched += len(tiles)
        found = []
        for x, y, side in tiles:
            tile = np.ascontiguousarray(rgb[y:y + side, x:x + side])
            offset = np.array([x, y, x, y], dtype=np.float32)
            found += [(box + offset, score)
                      for box, score in self._detection.full_range_boxes(tile, self.settings.tile_min_confidence)]
        return _without_duplicates(found)


class FaceFollower:
    """ONE video's front end of a shared FaceDetector (offline conversion): hands each frame the
    boxes of the previous frame's faces, so that a small face the tiled pass found is looked for in
    one tile around it in the next frame instead of in all of them (8 at 1080p, 45 at 4K). While it
    is found there, a second small face elsewhere waits until the first one is lost. One per video."""

    def __init__(self, detector: FaceDetector):
        self.detector = detector
        self._near: list[np.ndarray] = []

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces of the next frame (uint8 (H, W, 3) BGR), largest first."""
        faces = self.detector.detect(image, near=self._near)
        self._near = [face.box for face in faces]
        return faces


def no_face_reason(image: np.ndarray, settings: DetectionSettings | None = None) -> str:
    """Why no face was found in ``image`` (uint8 (H, W, 3) BGR), in words, as far as the picture
    itself tells: too small, very dark, overexposed, very blurred, or simply no face of at least
    ``min_face_size`` px. A few ms on a 1080p frame (it looks at a 1/4-size copy)."""
    settings = settings or DetectionSettings()
    minimum = settings.min_face_size
    height, width = image.shape[:2]
    if min(height, width) < minimum:
        return f"the frame ({width}x{height}) is smaller than the smallest face looked for ({minimum} px)"
    small = image[::4, ::4] if min(height, width) >= 4 * minimum else image
    grey = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_BGR2GRAY)
    brightness = float(grey.mean())
    if brightness < 30:
        return f"the frame is very dark (mean brightness {brightness:.0f} of 255)"
    clipped = float((grey >= 250).mean())
    if clipped > 0.5:
        return f"the frame is overexposed ({clipped:.0%} of it is white)"
    sharpness = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    if sharpness < 5.0:
        return "the frame is very blurred or flat (no detail to find a face in)"
    return f"no face of at least {minimum} px found"


class FaceTracker:
    """Faces of ONE video stream, frame after frame (see module docstring). ``reset()`` starts over.

    The graphs are shared: the detection graph of ``detector`` (a FaceDetector of the process; a
    private one when None) and the process's FaceLandmarkModel. What the tracker itself holds is a
    few numbers per followed face (its region and detector score), so a worker can keep one for
    every live stream. Detection runs when no face is followed, every ``confirm_every`` frames
    (faces no detection covers any more are dropped, new ones are picked up) and right away when
    every followed face is lost; in between, each face's landmarks come from the landmark model on
    the region that its landmarks in the previous frame give (MediaPipe's tracking loop).
    """

    def __init__(self, settings: DetectionSettings | None = None, max_faces: int = 1,
                 detector: "FaceDetector | None" = None, landmark_model=None):
        from faceswap.faces.landmark_model import shared_landmark_model

        self.settings = settings or (detector.settings if detector is not None else DetectionSettings())
        self.max_faces = max_faces
        self._owns_detector = detector is None
        self._detector = detector if detector is not None else _DetectionOnly(self.settings)
        self._landmarks = landmark_model if landmark_model is not None else shared_landmark_model()
        self._lock = threading.Lock()
        self._tracks: list[_Track] = []
        self._frames_since_detection = 0

    def reset(self) -> None:
        with self._lock:
            self._tracks = []
            self._frames_since_detection = 0

    def close(self) -> None:
        """Forget the stream; closes the detection graph only when the tracker made its own."""
        with self._lock:
            self._tracks = []
            if self._owns_detector:
                self._detector.close()

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in the next frame of the stream (uint8 (H, W, 3) BGR), largest first."""
        rgb = _rgb_frame(image)
        with self._lock:
            self._frames_since_detection += 1
            detected = False
            if not self._tracks or self._frames_since_detection >= self.settings.confirm_every:
                self._redetect(rgb)
                detected = True
            self._follow(rgb)
            if not self._tracks and not detected:
                self._redetect(rgb)   # every face lost between detections: look again in this frame
                self._follow(rgb)
            faces = [Face(box=_box_of(track.mesh), score=track.score, landmarks=mesh_to_68(track.mesh),
                          mesh=track.mesh) for track in self._tracks]
        faces.sort(key=lambda face: face.area, reverse=True)
        return faces

    def _redetect(self, rgb: np.ndarray) -> None:
        """Match the followed faces against a fresh detection; call with the lock held."""
        from faceswap.faces.landmark_model import roi_from_box

        with self._detector._lock:
            boxes = self._detector._detection.boxes(rgb)
        boxes.sort(key=lambda item: (item[0][2] - item[0][0]) * (item[0][3] - item[0][1]), reverse=True)
        kept: list[_Track] = []
        for box, score in boxes[: self.max_faces]:
            # A followed face moved since its last landmarks: grow the detection box by a quarter.
            grown = _grown(box, 0.25)
            match = next((track for track in self._tracks if track not in kept
                          and _covered_share(_box_of(track.mesh), grown) >= self.settings.min_overlap), None)
            if match is not None:
                match.score = score
                kept.append(match)
            else:
                kept.append(_Track(roi=roi_from_box(box), score=score, mesh=None))
        self._tracks = kept
        self._frames_since_detection = 0

    def _follow(self, rgb: np.ndarray) -> None:
        """Landmarks of every followed face in this frame; faces the model no longer sees (or whose
        mesh a detection does not cover, for a new face) are dropped; call with the lock held."""
        from faceswap.faces.landmark_model import roi_from_mesh

        followed: list[_Track] = []
        for track in self._tracks:
            new = track.mesh is None
            mesh, presence = self._landmarks.run(rgb, track.roi)
            if new:  # the detection box is upright: run once more, turned level with the eyes
                mesh, presence = self._landmarks.run(rgb, roi_from_mesh(mesh))
            if presence < self.settings.min_mesh_confidence or not np.all(np.isfinite(mesh)):
                continue
            if any(_covered_share(_box_of(mesh), _box_of(other.mesh)) >= 0.5 for other in followed):
                continue  # two detections of one face: keep the first
            track.mesh, track.roi = mesh, roi_from_mesh(mesh)
            followed.append(track)
        self._tracks = followed


@dataclass
class _Track:
    """One face a FaceTracker follows: its region for the next frame, last detector score, last mesh."""

    roi: object
    score: float
    mesh: np.ndarray | None


class _DetectionOnly:
    """The detection graph and lock of a FaceTracker made without a shared FaceDetector."""

    def __init__(self, settings: DetectionSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._detection = _face_detection_graph(settings)

    def close(self) -> None:
        with self._lock:
            self._detection.close()


def _grown(box: np.ndarray, share: float) -> np.ndarray:
    width, height = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] - share * width, box[1] - share * height,
                     box[2] + share * width, box[3] + share * height], dtype=np.float32)
