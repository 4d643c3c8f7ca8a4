"""Training data: the aligned faces of one side in memory, deterministic batches, prefetching.

A side is one or more face folders written by ``python -m faceswap extract`` (PNG crops in the
folder's FaceLayout, usually 256 px / 48 px padding, plus ``faces.json`` with 68 landmarks per
face in crop px). At load time every face is shrunk once to a "working" crop just big enough for
the model crop (``oversample`` x the model's resolution), so augmentation stays cheap; the
working px -> model crop px matrix comes from the alignment maths (``relayout_matrix``).

Batches are a pure function of (seed, side, iteration): the data order is a fresh permutation
per epoch and the augmentation draws come from a generator seeded with the iteration number.
A resumed run therefore sees exactly the batches an uninterrupted run would have seen, and a
background thread can prepare batches ahead of the train step without changing them.

Batch arrays: warped and target BGR float32 (B, S, S, 3) in [0, 1], mask float32 (B, S, S) in [0, 1].
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from faceswap.errors import InputError
from faceswap.extraction.face_folder import FaceFolder
from faceswap.faces.alignment import FaceLayout, compose, invert_matrix, relayout_matrix, transform_points
from faceswap.faces.masks import MaskSettings, eyes_mouth_mask, face_mask
from faceswap.images import read_image
from faceswap.training.augmentation import AugmentSettings, augment_face
from faceswap.training.sampling import balanced_indices, balanced_probabilities

logger = logging.getLogger(__name__)

SIDES = ("a", "b")


def resize_matrix(source_size: int, target_size: int) -> np.ndarray:
    """(2, 3) px mapping of ``cv2.resize`` from a square ``source_size`` to ``target_size`` (pixel centres)."""
    scale = target_size / source_size
    shift = 0.5 * scale - 0.5
    return np.array([[scale, 0.0, shift], [0.0, scale, shift]], dtype=np.float64)


def working_size(folder_layout: FaceLayout, model_layout: FaceLayout, oversample: float) -> int:
    """Side of the working crop: the model crop covered at ``oversample`` x its resolution (never upscaled)."""
    factor = model_layout.inner_size * oversample / folder_layout.inner_size
    return folder_layout.size if factor >= 1.0 else max(8, int(round(folder_layout.size * factor)))


@dataclass
class FaceSet:
    """The faces of one side, as working crops.

    images: list of uint8 (W, W, 3) BGR; landmarks: (N, 68, 2) float64 in working px;
    to_model: (N, 2, 3) float64 working px -> model crop px.
    """

    side: str
    folders: list[Path]
    model_layout: FaceLayout
    images: list[np.ndarray] = field(default_factory=list)
    landmarks: np.ndarray | None = None
    to_model: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    sources: Counter = field(default_factory=Counter)
    identities: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def describe(self) -> dict:
        """JSON-able summary for checkpoints and the export manifest."""
        return {"folders": [str(folder) for folder in self.folders], "faces": len(self),
                "identities": len(set(self.identities)), "sources": dict(sorted(self.sources.items()))}

    def model_crop(self, index: int) -> np.ndarray:
        """The undistorted model crop of face ``index``: BGR float32 (S, S, 3) in [0, 1]."""
        size = self.model_layout.size
        crop = cv2.warpAffine(self.images[index], self.to_model[index], (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        return crop.astype(np.float32) / np.float32(255.0)


def load_face_set(side: str, folders: list[str | Path], model_layout: FaceLayout, oversample: float = 1.5,
                  progress: bool = True, max_faces: int | None = None) -> FaceSet:
    """Read every face of ``folders`` (one side) into memory; InputError naming a folder that is
    missing, empty, corrupt, or holds an unreadable image. ``max_faces``: keep only that many
    faces per folder, evenly spread over it (previews, checks)."""
    if not folders:
        raise InputError(f"side {side.upper()}: no face folder given")
    face_set = FaceSet(side=side, folders=[Path(f) for f in folders], model_layout=model_layout)
    landmarks: list[np.ndarray] = []
    to_model: list[np.ndarray] = []
    for folder_path in face_set.folders:
        folder = FaceFolder.open(folder_path)
        size = working_size(folder.layout, model_layout, oversample)
        to_working = resize_matrix(folder.layout.size, size)
        working_to_model = compose(invert_matrix(to_working), relayout_matrix(folder.layout, model_layout))
        records = sorted(folder.records.values(), key=lambda record: record.file)
        if max_faces is not None and len(records) > max_faces:
            records = [records[int(i)] for i in np.unique(np.linspace(0, len(records) - 1, max_faces).astype(int))]
        for record in tqdm(records, desc=f"loading side {side.upper()} {folder_path}", unit="face",
                           disable=not progress, leave=False):
            image = read_image(folder.path / record.file)
            if image.shape[:2] != (folder.layout.size, folder.layout.size):
                raise InputError(f"{folder.path / record.file}: is {image.shape[1]}x{image.shape[0]} px, but "
                                 f"{folder.path / 'faces.json'} says the faces are {folder.layout.size} px")
            if size != folder.layout.size:
                image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
            face_set.images.append(image)
            landmarks.append(transform_points(record.landmarks, to_working))
            to_model.append(working_to_model)
            face_set.names.append(f"{folder_path}/{record.file}")
            face_set.sources[record.source or folder_path.name] += 1
            face_set.identities.append(record.identity or folder_path.name)
    face_set.landmarks = np.stack(landmarks)
    face_set.to_model = np.stack(to_model)
    logger.info("side %s: %d faces from %d folder(s)", side.upper(), len(face_set), len(face_set.folders))
    return face_set


@dataclass
class Batch:
    """warped (network input) and target: BGR float32 (B, S, S, 3) [0, 1]; mask: float32 (B, S, S) [0, 1];
    eyes_mouth: float32 (B, S, S) [0, 1], the eyes-and-mouth region of the target (extra loss weight)."""

    warped: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    eyes_mouth: np.ndarray


class BatchMaker:
    """Deterministic augmented batches of one side: ``batch(iteration)`` depends only on
    (seed, side, iteration, batch size, the faces and the settings)."""

    def __init__(self, face_set: FaceSet, batch_size: int, seed: int, augment: AugmentSettings,
                 mask: MaskSettings | None = None, balance: bool = False) -> None:
        self.face_set = face_set
        self.balance = balance
        self._probabilities = (balanced_probabilities(face_set.identities, face_set.landmarks)
                               if balance else None)
        self.batch_size = batch_size
        self.seed = seed
        self.augment = augment
        self.mask = mask or MaskSettings()
        self.side_index = SIDES.index(face_set.side)
        self._permutations: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def _permutation(self, epoch: int) -> np.ndarray:
        with self._lock:
            if epoch not in self._permutations:
                if len(self._permutations) > 4:
                    self._permutations.pop(min(self._permutations))
                rng = np.random.default_rng([self.seed, self.side_index, 1, epoch])
                self._permutations[epoch] = rng.permutation(len(self.face_set))
            return self._permutations[epoch]

    def indices(self, iteration: int) -> np.ndarray:
        """Face indices of batch ``iteration``: consecutive slices of one permutation per epoch, or,
        with ``balance``, draws balanced over identities and yaw (training/sampling.py)."""
        if self._probabilities is not None:
            return balanced_indices(self._probabilities, self.batch_size, self.seed, self.side_index, iteration)
        count = len(self.face_set)
        positions = np.arange(iteration * self.batch_size, (iteration + 1) * self.batch_size)
        return np.array([self._permutation(int(p // count))[int(p % count)] for p in positions])

    def batch(self, iteration: int) -> Batch:
        size = self.face_set.model_layout.size
        rng = np.random.default_rng([self.seed, self.side_index, 2, iteration])
        warped = np.empty((self.batch_size, size, size, 3), dtype=np.float32)
        target = np.empty_like(warped)
        mask = np.empty((self.batch_size, size, size), dtype=np.float32)
        eyes_mouth = np.empty_like(mask)
        for slot, index in enumerate(self.indices(iteration)):
            sample = augment_face(rng, self.face_set.images[index], self.face_set.landmarks[index],
                                  self.face_set.to_model[index], size, self.augment)
            warped[slot] = sample.warped
            target[slot] = sample.target
            mask[slot] = face_mask(sample.landmarks, size, self.mask)
            eyes_mouth[slot] = eyes_mouth_mask(sample.landmarks, size)
        return Batch(warped, target, mask, eyes_mouth)


class BatchPrefetcher:
    """Prepares ``(batch_a, batch_b)`` for iterations start, start+1, ... in a background thread,
    at most ``depth`` ahead, so augmentation overlaps the train step. ``depth`` 0 = no thread."""

    _DONE = object()

    def __init__(self, makers: tuple[BatchMaker, BatchMaker], start: int, stop: int, depth: int = 4) -> None:
        self.makers = makers
        self.next_iteration = start
        self.stop = stop
        self.depth = depth
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        if depth > 0:
            self._thread = threading.Thread(target=self._produce, args=(start,), name="batch-prefetch", daemon=True)
            self._thread.start()

    def _make(self, iteration: int):
        return tuple(maker.batch(iteration) for maker in self.makers)

    def _produce(self, start: int) -> None:
        iteration = start
        try:
            while iteration < self.stop and not self._closed.is_set():
                item = (iteration, self._make(iteration))
                while not self._closed.is_set():
                    try:
                        self._queue.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                iteration += 1
        except BaseException as error:  # handed to the consumer, raised there
            self._queue.put((iteration, error))
            return
        self._queue.put((iteration, self._DONE))

    def next(self) -> tuple[Batch, Batch]:
        """The batches of the next iteration (raises what the background thread raised)."""
        if self._thread is None:
            batches = self._make(self.next_iteration)
            self.next_iteration += 1
            return batches
        iteration, item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if item is self._DONE:
            raise StopIteration(f"no batches after iteration {iteration}")
        assert iteration == self.next_iteration, (iteration, self.next_iteration)
        self.next_iteration += 1
        return item

    def close(self) -> None:
        """Stop the background thread (idempotent)."""
        self._closed.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
                self._thread.join(timeout=0.05)

    def __enter__(self) -> "BatchPrefetcher":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
