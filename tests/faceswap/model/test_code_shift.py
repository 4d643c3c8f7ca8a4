"""The code shift (faceswap/model/code_shift.py) on the trained test model and real faces: the mean
code, the shift's size and sign, and the swap model that adds it before decoder B."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.model.architecture import build_autoencoders
from faceswap.model.code_shift import code_shift, mean_code
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.dataset import load_face_set


@pytest.fixture(scope="module")
def trained(test_model_work):
    networks = build_autoencoders("tiny")
    load_checkpoint(test_model_work / "model").restore_networks(networks)
    faces = {}
    for side in ("a", "b"):
        face_set = load_face_set(side, [test_model_work / f"faces_{side}"], CLASSIC_MODEL_LAYOUT, progress=False,
                                 max_faces=10)
        faces[side] = np.stack([face_set.model_crop(i) for i in range(len(face_set))])
    return networks, faces


def test_mean_code_is_the_mean_of_the_codes_in_any_batching(trained):
    networks, faces = trained
    codes = np.asarray(networks.encoder(faces["a"], training=False))
    mean = mean_code(networks.encoder, faces["a"], batch_size=3)
    assert mean.shape == codes.shape[1:] and mean.dtype == np.float32
    np.testing.assert_allclose(mean, codes.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean_code(networks.encoder, faces["a"]), mean, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least one face"):
        mean_code(networks.encoder, faces["a"][:0])


def test_the_shift_points_from_side_a_to_side_b_in_proportion_to_its_strength(trained):
    networks, faces = trained
    half = code_shift(networks.encoder, faces["a"], faces["b"], 0.5)
    whole = code_shift(networks.encoder, faces["a"], faces["b"], 1.0)
    np.testing.assert_allclose(whole, 2 * half, rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(whole) > 0
    assert not code_shift(networks.encoder, faces["a"], faces["b"], 0.0).any()
    # the whole shift takes side A's mean code exactly onto side B's
    moved = mean_code(networks.encoder, faces["a"]) + whole
    np.testing.assert_allclose(moved, mean_code(networks.encoder, faces["b"]), rtol=1e-4, atol=1e-5)
    for strength in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="strength"):
            code_shift(networks.encoder, faces["a"], faces["b"], strength)


def test_the_swap_model_adds_the_shift_before_the_decoder(trained):
    networks, faces = trained
    shift = code_shift(networks.encoder, faces["a"], faces["b"], 0.5)
    shifted = np.asarray(networks.swap_model("a2b", shift)(faces["a"], training=False))
    by_hand = np.asarray(networks.decoder_b(np.asarray(networks.encoder(faces["a"], training=False)) + shift,
                                            training=False))
    np.testing.assert_allclose(shifted, by_hand, atol=1e-5)
    plain = np.asarray(networks.swap_model("a2b")(faces["a"], training=False))
    assert np.abs(shifted - plain).mean() > 100 * np.abs(shifted - by_hand).mean()
    # the shift is a weight of the swap model, not a trainable one
    model = networks.swap_model("a2b", shift)
    layer = model.get_layer("code_shift")
    assert not layer.trainable_weights and np.array_equal(np.asarray(layer.weights[0]), shift)
