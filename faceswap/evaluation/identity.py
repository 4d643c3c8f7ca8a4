"""Who a face is: dlib's ResNet face descriptor (128-D) and the target person's mean descriptor.

The recogniser is dlib's ``dlib_face_recognition_resnet_model_v1`` (a ResNet-29 trained on ~3 M
faces; 99.38 % on LFW; two faces of one person lie below 0.6 apart, Euclidean), with dlib's
5-point shape predictor aligning the 150 px face chip it reads. Both models ship inside the
``face-recognition-models`` wheel, dlib inside ``dlib-bin``: no download, runs offline. See
http://dlib.net/face_recognition.py.html and King, "Dlib-ml", JMLR 10 (2009).

dlib is imported only here, and only when a ``FaceRecogniser`` is made: the recogniser belongs to
the test/benchmark environment, never to the serving image or the relay.

Where the face is comes from our MediaPipe detector (``Face.box``: the mesh's bounding box, px);
dlib's shape predictor then places its own 5 points inside that box. Images are uint8 (H, W, 3)
BGR; descriptors are float64 (128,).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceswap.errors import FaceswapError, InputError

logger = logging.getLogger(__name__)

SAME_PERSON_DISTANCE = 0.6  # dlib's threshold: below it two descriptors are the same person


class FaceRecogniser:
    """dlib's ResNet face descriptor of the face inside a box of a BGR image.

    Raises FaceswapError when dlib or face-recognition-models is not installed (they come with the
    test environment: ``scripts/run_tests.sh``). Thread-safe (one lock).
    """

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models
        except ImportError as error:
            raise FaceswapError(f"the face recogniser needs dlib-bin and face-recognition-models ({error}); "
                                "install the test environment with scripts/run_tests.sh") from None
        self._dlib = dlib
        self._shape_predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
        self._model = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
        self._lock = threading.Lock()

    def descriptor(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """float64 (128,) descriptor of the face in ``box`` (x0, y0, x1, y1 px) of ``image`` (uint8 BGR)."""
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        x0, y0, x1, y1 = (int(round(float(value))) for value in box[:4])
        rectangle = self._dlib.rectangle(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))
        with self._lock:
            shape = self._shape_predictor(rgb, rectangle)
            return np.asarray(self._model.compute_face_descriptor(rgb, shape), dtype=np.float64)


def descriptor_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Euclidean distance of two descriptors (dlib's measure; same person below 0.6)."""
    return float(np.linalg.norm(np.asarray(first) - np.asarray(second)))


@dataclass
class TargetIdentity:
    """The target person: ``mean`` float64 (128,) descriptor over ``count`` faces of ``source`` (a
    clip from frame ``first_frame`` on, a picture or a folder); ``spread`` = mean distance of those
    faces to the mean (how far the target's own frames lie from it)."""

    source: str
    first_frame: int
    mean: np.ndarray
    count: int
    spread: float

    @property
    def label(self) -> str:
        """Short name for sheets and logs, e.g. 'd6.mp4 frames 900+'."""
        name = Path(self.source).name
        return f"{name} frames {self.first_frame}+" if self.first_frame else name

    def to_dict(self) -> dict:
        return {"source": self.source, "first_frame": self.first_frame, "faces": self.count,
                "spread": round(self.spread, 4)}


def _evenly(items: list, count: int) -> list:
    if count <= 0 or len(items) <= count:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def _target_images(target: Path, first_frame: int, count: int):
    """Yield (name, BGR image) of the pictures or frames to describe the target with."""
    from faceswap.conversion.video_io import VIDEO_SUFFIXES, probe_video, read_frames
    from faceswap.images import IMAGE_SUFFIXES, list_images, read_image

    if target.is_dir():
        pictures = _evenly(list_images(target), count)
        if not pictures:
            raise InputError(f"{target}: the target folder holds no pictures ({', '.join(IMAGE_SUFFIXES)})")
        for path in pictures:
            try:
                yield path.name, read_image(path)
            except InputError as error:
                logger.warning("target picture skipped: %s", error)
        return
    suffix = target.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        yield target.name, read_image(target)
        return
    if suffix not in VIDEO_SUFFIXES:
        if not target.exists():
            raise InputError(f"{target}: no such target clip, picture or folder")
        raise InputError(f"{target}: the target must be a clip ({', '.join(VIDEO_SUFFIXES)}), "
                         "a picture or a folder of pictures")
    info = probe_video(target)
    remaining = max(info.frame_count - first_frame, 0) or count
    wanted = {int(i) + first_frame for i in np.linspace(0, remaining - 1, min(count, remaining)).round()} \
        if count > 0 else None
    for index, frame in enumerate(read_frames(target)):
        if index < first_frame or (wanted is not None and index not in wanted):
            continue
        yield f"frame {index}", frame


def load_target_identity(target: str | Path, recogniser: FaceRecogniser, detector, first_frame: int = 0,
                         max_faces: int = 60) -> TargetIdentity:
    """The mean descriptor of the target person from a clip (frames ``first_frame`` on, ``max_faces``
    of them evenly spaced), a picture, or a folder of pictures (e.g. an extracted face folder).

    detector: ``detect(BGR image) -> list[Face]`` largest first (the largest face is used).
    Raises InputError naming ``target`` when it cannot be read or holds no usable face.
    """
    target = Path(target)
    descriptors = []
    looked = 0
    for _name, image in _target_images(target, max(int(first_frame), 0), max_faces):
        looked += 1
        faces = detector.detect(image)
        if faces:
            descriptors.append(recogniser.descriptor(image, faces[0].box))
    if not descriptors:
        where = f" from frame {first_frame}" if first_frame and target.is_file() else ""
        raise InputError(f"{target}: no usable face of the target person ({looked} pictures/frames looked at{where})")
    stacked = np.stack(descriptors)
    mean = stacked.mean(axis=0)
    spread = float(np.linalg.norm(stacked - mean, axis=1).mean())
    identity = TargetIdentity(source=str(target), first_frame=int(first_frame) if target.is_file() else 0,
                              mean=mean, count=len(descriptors), spread=spread)
    logger.info("target %s: %d faces, spread %.3f", identity.label, identity.count, spread)
    return identity
