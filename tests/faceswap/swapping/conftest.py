"""Fixtures for the swap pipeline tests: one shared face detector and real faces found in the
sample stills and in the problem cases (../shared/data/cases), aligned to the classic 64 px model
layout.

FACESWAP_LANDMARK_CACHE (set by scripts/mutation_test.sh for its thousands of short runs) names a
folder where the detector's landmarks of each picture are kept, so that a run after the first one
neither starts MediaPipe nor detects again; the landmarks are the detector's own, read back."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT, align_face, transform_points
from faceswap.faces.masks import face_mask
from faceswap.images import read_image


@dataclass
class AlignedStill:
    """A picture with its largest face: frame uint8 BGR, crop uint8 (64, 64, 3) BGR,
    matrix (2, 3) image -> crop, mask float32 (64, 64) in [0, 1], landmarks (68, 2) in crop px."""

    frame: np.ndarray
    crop: np.ndarray
    matrix: np.ndarray
    mask: np.ndarray
    landmarks: np.ndarray


def _largest_face_landmarks(path: Path, frame: np.ndarray, request) -> np.ndarray:
    """(68, 2) float32 landmarks of the largest face the shared detector finds in ``frame`` (read
    from ``path``), through FACESWAP_LANDMARK_CACHE when it is set."""
    folder = os.environ.get("FACESWAP_LANDMARK_CACHE")
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    cached = Path(folder) / f"{key}.npy" if folder else None
    if cached is not None and cached.is_file():
        return np.load(cached)
    faces = request.getfixturevalue("face_detector").detect(frame)
    assert faces, f"no face found in {path}"
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, faces[0].landmarks)
    return faces[0].landmarks


def _aligner(path_of, request):
    cache: dict[str, AlignedStill] = {}

    def _aligned(name: str) -> AlignedStill:
        if name not in cache:
            frame = read_image(path_of(name))
            found = _largest_face_landmarks(Path(path_of(name)), frame, request)
            crop, matrix = align_face(frame, found, CLASSIC_MODEL_LAYOUT)
            landmarks = transform_points(found, matrix)
            mask = face_mask(landmarks, CLASSIC_MODEL_LAYOUT.size)
            cache[name] = AlignedStill(frame, crop, matrix, mask, landmarks)
        return cache[name]

    return _aligned


@pytest.fixture(scope="session")
def aligned_still(still_path, request):
    """aligned_still('s0') -> AlignedStill of the largest face in that sample still."""
    return _aligner(still_path, request)


@pytest.fixture(scope="session")
def aligned_case(shared_data, request):
    """aligned_case('red_stage_light') -> AlignedStill of ../shared/data/cases/red_stage_light.png."""
    return _aligner(lambda name: shared_data / "cases" / f"{name}.png", request)
