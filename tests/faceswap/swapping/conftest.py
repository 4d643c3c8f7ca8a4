"""Fixtures for the swap pipeline tests: one shared face detector and real faces found in the
sample stills and in the problem cases (../shared/data/cases), aligned to the classic 64 px model
layout."""

from __future__ import annotations

from dataclasses import dataclass

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


def _aligner(path_of, face_detector):
    cache: dict[str, AlignedStill] = {}

    def _aligned(name: str) -> AlignedStill:
        if name not in cache:
            frame = read_image(path_of(name))
            faces = face_detector.detect(frame)
            assert faces, f"no face found in {name}"
            crop, matrix = align_face(frame, faces[0].landmarks, CLASSIC_MODEL_LAYOUT)
            landmarks = transform_points(faces[0].landmarks, matrix)
            mask = face_mask(landmarks, CLASSIC_MODEL_LAYOUT.size)
            cache[name] = AlignedStill(frame, crop, matrix, mask, landmarks)
        return cache[name]

    return _aligned


@pytest.fixture(scope="session")
def aligned_still(still_path, face_detector):
    """aligned_still('s0') -> AlignedStill of the largest face in that sample still."""
    return _aligner(still_path, face_detector)


@pytest.fixture(scope="session")
def aligned_case(shared_data, face_detector):
    """aligned_case('red_stage_light') -> AlignedStill of ../shared/data/cases/red_stage_light.png."""
    return _aligner(lambda name: shared_data / "cases" / f"{name}.png", face_detector)
