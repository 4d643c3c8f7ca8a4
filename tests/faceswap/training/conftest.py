"""Fixtures for the training tests: the session test model's real face folders (d9 as side A,
d12 as side B, about a dozen aligned faces each) loaded as face sets."""

from __future__ import annotations

import pytest

from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.training.dataset import load_face_set


@pytest.fixture(scope="session")
def face_folders(test_model_work):
    """(side A folder, side B folder): real extract output (256 px faces + faces.json). Read-only."""
    return test_model_work / "faces_a", test_model_work / "faces_b"


@pytest.fixture(scope="session")
def face_set_b(face_folders):
    return load_face_set("b", [face_folders[1]], CLASSIC_MODEL_LAYOUT, progress=False)
