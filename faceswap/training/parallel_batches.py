"""Training batches augmented by a pool of worker processes, for machines whose cores feed a GPU.

``BatchPrefetcher`` (dataset.py) augments in one background thread, enough for 2 CPU cores that
also run the train step. A GPU takes a batch in a few milliseconds, so on a machine with a GPU
and many cores ``ParallelBatches`` spreads the augmentation over ``workers`` processes (each
builds whole iterations: side A and side B). It yields exactly the batches ``BatchMaker.batch``
would (they are a pure function of seed, side and iteration), in order, so a run with workers
resumes and compares bit for bit with one without.

No face or batch is pickled: the working crops of both sides are copied once into a
memory-mapped scratch file (in /dev/shm when it has room, else the temporary folder) that the
workers map read-only, and every worker writes its batches into one slot of a memory-mapped ring
of ``depth`` slots that the training process reads in place. A slot is handed back to the
workers when ``next`` is called again, so **a batch is valid until the following call of
``next``** (the train step has copied it to the device by then). Workers are started with
'forkserver' (Linux) or 'spawn', never a plain fork of a process that runs TensorFlow/JAX threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
from collections import deque
from pathlib import Path

import numpy as np

from faceswap.training.dataset import Batch, BatchMaker, FaceSet

logger = logging.getLogger(__name__)

_FIELDS = ("warped", "target", "mask", "eyes_mouth")


def _slot_layout(batch_size: int, size: int) -> list[tuple[str, tuple[int, ...], int]]:
    """(field, shape, float offset) of each array of one ring slot: side A's four arrays, then side B's."""
    layout, offset = [], 0
    for side in range(2):
        for name in _FIELDS:
            shape = (batch_size, size, size, 3) if name in ("warped", "target") else (batch_size, size, size)
            layout.append((f"{side}/{name}", shape, offset))
            offset += int(np.prod(shape))
    return layout


def _slot_floats(batch_size: int, size: int) -> int:
    _, shape, offset = _slot_layout(batch_size, size)[-1]
    return offset + int(np.prod(shape))


def _scratch_directory(needed_bytes: int) -> str:
    for candidate in ("/dev/shm", tempfile.gettempdir()):
        try:
            if os.access(candidate, os.W_OK) and shutil.disk_usage(candidate).free > 2 * needed_bytes:
                return candidate
        except OSError:
            continue
    return tempfile.gettempdir()


# ---- worker side -------------------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(spec: dict) -> None:
    import cv2

    cv2.setNumThreads(1)
    faces = np.memmap(spec["faces_path"], dtype=np.uint8, mode="r")
    makers = []
    for side in spec["sides"]:
        images = [np.asarray(faces[start:start + int(np.prod(shape))]).reshape(shape)
                  for start, shape in zip(side["starts"], side["shapes"])]
        face_set = FaceSet(side=side["side"], folders=[], model_layout=side["model_layout"], images=images,
                           landmarks=side["landmarks"], to_model=side["to_model"], identities=side["identities"])
        makers.append(BatchMaker(face_set, spec["batch_size"], spec["seed"], side["augment"], side["mask"],
                                 side["balance"]))
    ring = np.memmap(spec["ring_path"], dtype=np.float32, mode="r+", shape=(spec["depth"], spec["slot_floats"]))
    _WORKER.update(makers=makers, ring=ring, layout=_slot_layout(spec["batch_size"], spec["size"]))


def _fill_slot(iteration: int, slot: int) -> int:
    """Augment both sides of ``iteration`` into ring slot ``slot`` (in a worker); returns ``iteration``."""
    ring, layout = _WORKER["ring"], _WORKER["layout"]
    batches = [maker.batch(iteration) for maker in _WORKER["makers"]]
    for key, shape, offset in layout:
        side, name = key.split("/")
        ring[slot, offset:offset + int(np.prod(shape))] = getattr(batches[int(side)], name).reshape(-1)
    return iteration


# ---- training side -----------------------------------------------------------------------------

class ParallelBatches:
    """``next() -> (batch_a, batch_b)`` for iterations start, start+1, ... < stop, augmented by
    ``workers`` processes, up to ``depth`` iterations ahead (default 2 x workers). Same interface as
    dataset.BatchPrefetcher; a returned batch stays valid until the next call of ``next``."""

    def __init__(self, makers: tuple[BatchMaker, BatchMaker], start: int, stop: int, workers: int,
                 depth: int = 0) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        batch_sizes = {maker.batch_size for maker in makers}
        sizes = {maker.face_set.model_layout.size for maker in makers}
        if len(batch_sizes) != 1 or len(sizes) != 1:
            raise ValueError("both sides need the same batch size and model crop size")
        self.batch_size, self.size = batch_sizes.pop(), sizes.pop()
        self.next_iteration = start
        self.stop = stop
        self.depth = max(1, depth or 2 * workers)
        self.slot_floats = _slot_floats(self.batch_size, self.size)
        face_bytes = sum(image.nbytes for maker in makers for image in maker.face_set.images)
        ring_bytes = self.depth * self.slot_floats * 4
        self._directory = Path(tempfile.mkdtemp(prefix="faceswap-batches-",
                                                dir=_scratch_directory(face_bytes + ring_bytes)))
        self._pool = None
        try:
            spec = self._write_scratch(makers, face_bytes)
            self._ring = np.memmap(spec["ring_path"], dtype=np.float32, mode="r",
                                   shape=(self.depth, self.slot_floats))
            self._layout = _slot_layout(self.batch_size, self.size)
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            if "forkserver" in methods:
                context.set_forkserver_preload([__name__])
            self._pool = context.Pool(workers, initializer=_init_worker, initargs=(spec,))
        except BaseException:
            self.close()
            raise
        self._pending: deque = deque()
        self._returned: int | None = None
        for iteration in range(start, min(stop, start + self.depth)):
            self._submit(iteration)
        logger.info("augmenting with %d worker processes, %d iterations ahead (scratch %s, %.0f MB)", workers,
                    self.depth, self._directory, (face_bytes + ring_bytes) / 1e6)

    def _write_scratch(self, makers, face_bytes: int) -> dict:
        faces_path = self._directory / "faces.bin"
        faces = np.memmap(faces_path, dtype=np.uint8, mode="w+", shape=(max(1, face_bytes),))
        sides, position = [], 0
        for maker in makers:
            face_set: FaceSet = maker.face_set
            starts, shapes = [], []
            for image in face_set.images:
                faces[position:position + image.nbytes] = np.ascontiguousarray(image).reshape(-1)
                starts.append(position)
                shapes.append(tuple(image.shape))
                position += image.nbytes
            sides.append({"side": face_set.side, "model_layout": face_set.model_layout, "starts": starts,
                          "shapes": shapes, "landmarks": face_set.landmarks, "to_model": face_set.to_model,
                          "identities": list(face_set.identities), "augment": maker.augment, "mask": maker.mask,
                          "balance": maker.balance})
        faces.flush()
        del faces
        ring_path = self._directory / "ring.bin"
        ring = np.memmap(ring_path, dtype=np.float32, mode="w+", shape=(self.depth, self.slot_floats))
        del ring
        return {"faces_path": str(faces_path), "ring_path": str(ring_path), "depth": self.depth,
                "slot_floats": self.slot_floats, "batch_size": self.batch_size, "size": self.size,
                "seed": makers[0].seed, "sides": sides}

    def _submit(self, iteration: int) -> None:
        slot = iteration % self.depth
        self._pending.append((iteration, self._pool.apply_async(_fill_slot, (iteration, slot))))

    def next(self) -> tuple[Batch, Batch]:
        """The batches of the next iteration (views into the ring; raises what a worker raised)."""
        if self._returned is not None:  # the caller is done with the previous batch: reuse its slot
            following = self._returned + self.depth
            if following < self.stop:
                self._submit(following)
            self._returned = None
        if not self._pending:
            raise StopIteration(f"no batches after iteration {self.next_iteration}")
        iteration, result = self._pending.popleft()
        assert iteration == self.next_iteration, (iteration, self.next_iteration)
        result.get()
        slot = self._ring[iteration % self.depth]
        arrays = {key: slot[offset:offset + int(np.prod(shape))].reshape(shape) for key, shape, offset in self._layout}
        batches = tuple(Batch(**{name: np.asarray(arrays[f"{side}/{name}"]) for name in _FIELDS}) for side in range(2))
        self._returned = iteration
        self.next_iteration += 1
        return batches

    def close(self) -> None:
        """Stop the workers and delete the scratch files (idempotent)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self._ring = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> "ParallelBatches":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
