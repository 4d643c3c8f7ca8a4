"""The code shift (faceswap/model/code_shift.py) on the trained test model and real faces: the mean
code, the shift's size and sign, and the swap model that adds it before decoder B."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.model.architecture import build_autoencoders
from faceswap.model.code_shift import code_map, code_shift, mean_code
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


# The subspace map (code_map): side B's principal directions, measured on real faces' codes.
def test_the_subspace_map_is_its_formula_from_independently_computed_codes(trained):
    networks, faces = trained
    code_a = np.asarray(networks.encoder(faces["a"], training=False), dtype=np.float64)
    code_b = np.asarray(networks.encoder(faces["b"], training=False), dtype=np.float64)
    flat_b = code_b.reshape(len(code_b), -1)
    mean_a, mean_b = code_a.reshape(len(code_a), -1).mean(axis=0), flat_b.mean(axis=0)
    # side B's top 3 principal directions, from the eigenvectors of the codes' Gram matrix (not an SVD)
    centred = flat_b - mean_b
    values, vectors = np.linalg.eigh(centred @ centred.T)
    top = vectors[:, np.argsort(values)[::-1][:3]]
    directions = top.T @ centred
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    mapping = code_map(networks.encoder, faces["a"], faces["b"], 0.5, 3)
    assert mapping.basis.shape == (3, flat_b.shape[1]) and mapping.basis.dtype == np.float32
    np.testing.assert_allclose(mapping.basis @ mapping.basis.T, np.eye(3), atol=1e-5)
    # the same subspace, whatever the signs of the directions
    np.testing.assert_allclose(mapping.basis.T @ mapping.basis, directions.T @ directions, atol=1e-4)
    flat_a = code_a.reshape(len(code_a), -1)
    wanted = 0.5 * flat_a + 0.5 * (mean_b + ((flat_a - mean_a) @ directions.T) @ directions)
    np.testing.assert_allclose(mapping.apply(code_a).reshape(len(code_a), -1), wanted, atol=1e-4)
    # side A's mean code lands where the plain shift at the same strength takes it, as the map says
    plain = code_shift(networks.encoder, faces["a"], faces["b"], 0.5)
    np.testing.assert_allclose(mapping.apply(mean_a.reshape((1,) + code_a.shape[1:]))[0],
                               mean_a.reshape(code_a.shape[1:]) + plain, atol=1e-4)
    np.testing.assert_allclose(mapping.mean_shift, plain, atol=1e-5)
    # strength 0 is no map
    still = code_map(networks.encoder, faces["a"], faces["b"], 0.0, 3)
    np.testing.assert_allclose(still.apply(code_a), code_a, atol=1e-6)


def test_the_subspace_map_refuses_what_it_cannot_measure(trained):
    networks, faces = trained
    for dimensions in (0, len(faces["b"]), -1):
        with pytest.raises(ValueError, match="directions"):
            code_map(networks.encoder, faces["a"], faces["b"], 0.5, dimensions)
    for strength in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="strength"):
            code_map(networks.encoder, faces["a"], faces["b"], strength, 2)
    with pytest.raises(ValueError, match="directions"):
        code_map(networks.encoder, faces["a"], faces["b"], 0.5, 2.5)
    mapping = code_map(networks.encoder, faces["a"], faces["b"], 0.5, 2)
    codes = np.asarray(networks.encoder(faces["a"], training=False))
    # one code at a time maps as in a batch; a code of another shape is refused, not reshaped
    np.testing.assert_allclose(mapping.apply(codes[:1]), mapping.apply(codes)[:1], atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        mapping.apply(codes[:, :1])


def test_the_swap_model_applies_the_subspace_map_before_the_decoder(trained):
    networks, faces = trained
    mapping = code_map(networks.encoder, faces["a"], faces["b"], 0.5, 3)
    model = networks.swap_model("a2b", mapping)
    mapped = np.asarray(model(faces["a"], training=False))
    by_hand = np.asarray(networks.decoder_b(mapping.apply(np.asarray(networks.encoder(faces["a"], training=False))),
                                            training=False))
    np.testing.assert_allclose(mapped, by_hand, atol=1e-5)
    shifted = np.asarray(networks.swap_model("a2b", code_shift(networks.encoder, faces["a"], faces["b"], 0.5))(
        faces["a"], training=False))
    assert np.abs(mapped - shifted).mean() > 100 * np.abs(mapped - by_hand).mean()
    layer = model.get_layer("code_shift")
    assert not layer.trainable_weights
    np.testing.assert_array_equal(np.asarray(layer.weights[1]), mapping.basis)
