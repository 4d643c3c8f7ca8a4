"""The bundled ``models/default`` (what the README's run command serves) loads, as its own
manifest.json describes it (whatever its size and configuration), turns faces into its target
identity, and is the model the prediction routine serves when no model is named."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pytest

from faceswap.faces.alignment import FaceLayout, align_face
from faceswap.conversion.video_io import read_frames as read_video
from faceswap.faces.detection import FaceDetector
from faceswap.model.runtime import load_swap_model
from prediction_routine.model_location import model_uri_from_environment
from prediction_routine.predictor import ModelPrediction
from tests.conftest import REPO_ROOT
from tests.prediction_routine.conftest import image_of, instance

BUNDLED = REPO_ROOT / "models" / "default"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((BUNDLED / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundled():
    return load_swap_model(BUNDLED)   # checks every listed file's size and the TFLite files' sha256


def target_clip(manifest: dict, shared_data) -> Path:
    """The clip most of the model's side-B (target) faces came from, per its manifest (d6.mp4 for
    the recipe in docs/default-model.md)."""
    sources = manifest.get("sides", {}).get("b", {}).get("sources") or {"d6.mp4": 1}
    name = max(sources, key=sources.get)
    path = shared_data / "clips" / name
    assert path.is_file(), f"the bundled model's target clip {name} is not in the shared data"
    return path


@pytest.fixture(scope="module")
def target_faces(bundled, manifest, shared_data) -> np.ndarray:
    """Faces of the model's target identity from the last frames of its clip, which the recipe
    holds out of training (extraction stops at frame 900 of 1008): BGR float32 (N, S, S, 3)."""
    last = collections.deque(read_video(target_clip(manifest, shared_data)), maxlen=3)
    crops = []
    with FaceDetector() as detector:
        for frame in last:
            [face] = detector.detect(frame)[:1]
            crop, _ = align_face(frame, face.landmarks, bundled.layout)
            crops.append(crop.astype(np.float32) / 255.0)
    return np.stack(crops)


def test_the_bundled_model_loads_as_its_manifest_says(bundled, manifest):
    size = int(manifest["input_size"])
    assert bundled.input_size == size
    assert bundled.layout == FaceLayout(int(manifest["layout"]["size"]), float(manifest["layout"]["padding_ratio"]))
    assert bundled.backend == "tflite" and bundled.manifest["iterations"] == manifest["iterations"] > 0
    for listed in manifest["files"]:
        assert (BUNDLED / listed["path"]).stat().st_size == listed["bytes"]


def test_the_bundled_model_swaps_towards_its_target_identity(bundled, target_faces):
    size = bundled.input_size
    a2b = bundled.swap(target_faces, "a2b")   # decoder B: a face of B comes back as itself
    b2a = bundled.swap(target_faces, "b2a")   # decoder A: the same face turned into side A
    for output in (a2b, b2a):
        assert output.shape == (len(target_faces), size, size, 3) and output.dtype == np.float32
        assert 0.0 <= output.min() and output.max() <= 1.0
        assert output.std(axis=(1, 2, 3)).min() > 0.05    # a picture, not a flat fill
    reconstruction = np.abs(a2b - target_faces).mean(axis=(1, 2, 3))
    swapped = np.abs(b2a - target_faces).mean(axis=(1, 2, 3))
    # A trained decoder B redraws held-out faces of B closely, and closer than decoder A does.
    assert reconstruction.max() < 0.1, reconstruction
    assert (reconstruction < swapped).all(), (reconstruction, swapped)


def test_the_routine_serves_the_bundled_model_when_none_is_named(d9_jpegs):
    location = model_uri_from_environment({})
    assert location == str(BUNDLED)
    routine = ModelPrediction.from_path(location)
    assert routine.swapper.model.model_dir == BUNDLED
    [result] = routine.predict([instance(d9_jpegs[0])])
    assert result["error"] is None and result["faces"] == 1
    assert image_of(result).shape == (480, 640, 3)
