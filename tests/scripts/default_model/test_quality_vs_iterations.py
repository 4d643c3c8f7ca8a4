"""scripts/default_model/quality_vs_iterations.py's snapshot model: a checkpoint's Keras weights as the
benchmark's swap model, with the export's code shift when asked (the same computation as export)."""

from __future__ import annotations

import numpy as np

from faceswap.export.exporter import checkpoint_code_shift
from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.training.checkpoint import read_checkpoint
from faceswap.training.dataset import load_face_set
from scripts.default_model.quality_vs_iterations import KerasSnapshotModel


def test_snapshot_model_swaps_as_the_export_would_with_and_without_the_code_shift(test_model_work):
    checkpoint = read_checkpoint(test_model_work / "model" / "checkpoint.npz")
    face_set = load_face_set("a", [test_model_work / "faces_a"], CLASSIC_MODEL_LAYOUT, progress=False, max_faces=4)
    faces = np.stack([face_set.model_crop(i) for i in range(len(face_set))])
    plain, shifted = KerasSnapshotModel(checkpoint), KerasSnapshotModel(checkpoint, 0.5)
    assert plain.manifest["code_shift"] == {"strength": 0.0} and shifted.manifest["code_shift"]["strength"] == 0.5
    shift, _ = checkpoint_code_shift(shifted.networks, checkpoint.meta["sides"], 0.5)
    expected = np.clip(np.asarray(shifted.networks.swap_model("a2b", shift)(faces, training=False)), 0, 1)
    np.testing.assert_allclose(shifted.swap(faces, "a2b"), expected, atol=1e-6)
    assert np.abs(shifted.swap(faces, "a2b") - plain.swap(faces, "a2b")).mean() > 1e-4
    np.testing.assert_allclose(shifted.swap(faces, "b2a"), plain.swap(faces, "b2a"), atol=1e-6)


def test_snapshot_model_swaps_with_the_subspace_map_as_the_export_would(test_model_work):
    checkpoint = read_checkpoint(test_model_work / "model" / "checkpoint.npz")
    face_set = load_face_set("a", [test_model_work / "faces_a"], CLASSIC_MODEL_LAYOUT, progress=False, max_faces=4)
    faces = np.stack([face_set.model_crop(i) for i in range(len(face_set))])
    mapped = KerasSnapshotModel(checkpoint, 0.5, 3)
    assert mapped.manifest["code_shift"]["subspace"] == 3
    mapping, _ = checkpoint_code_shift(mapped.networks, checkpoint.meta["sides"], 0.5, subspace=3)
    expected = np.clip(np.asarray(mapped.networks.swap_model("a2b", mapping)(faces, training=False)), 0, 1)
    np.testing.assert_allclose(mapped.swap(faces, "a2b"), expected, atol=1e-6)
