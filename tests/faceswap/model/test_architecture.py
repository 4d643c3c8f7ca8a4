"""The autoencoder architecture: shared encoder, decoder per side, configs and their sizes."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.model.architecture import (CONFIGS, ModelConfig, build_autoencoders, get_config, layer_macs,
                                         model_info)


def _conv(k, cin, cout):
    return k * k * cin * cout + cout


def test_encoder_is_one_object_shared_by_both_autoencoders():
    networks = build_autoencoders("tiny")
    inner_a = [layer for layer in networks.autoencoder_a.layers if layer.name == "encoder"]
    inner_b = [layer for layer in networks.autoencoder_b.layers if layer.name == "encoder"]
    assert inner_a[0] is networks.encoder and inner_b[0] is networks.encoder
    ids_a = {id(v) for v in networks.autoencoder_a.trainable_variables}
    ids_b = {id(v) for v in networks.autoencoder_b.trainable_variables}
    shared = ids_a & ids_b
    assert shared == {id(v) for v in networks.encoder.trainable_variables}
    assert not ids_a & {id(v) for v in networks.decoder_b.trainable_variables}
    assert not ids_b & {id(v) for v in networks.decoder_a.trainable_variables}
    # Changing the encoder through one autoencoder changes what the other computes.
    faces = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    before = np.asarray(networks.autoencoder_b(faces))
    kernel = networks.autoencoder_a.get_layer("encoder").get_layer("encoder_conv1").kernel
    kernel.assign(kernel.numpy() * 3.0)
    assert not np.allclose(before, np.asarray(networks.autoencoder_b(faces)))


def test_swap_is_the_encoder_then_the_other_sides_decoder():
    networks = build_autoencoders("tiny")
    faces = np.random.default_rng(1).random((3, 64, 64, 3), dtype=np.float32)
    latent = networks.encoder(faces)
    a2b = np.asarray(networks.swap_model("a2b")(faces))
    b2a = np.asarray(networks.swap_model("b2a")(faces))
    np.testing.assert_allclose(a2b, np.asarray(networks.decoder_b(latent)), atol=1e-6)
    np.testing.assert_allclose(b2a, np.asarray(networks.decoder_a(latent)), atol=1e-6)
    assert not np.allclose(a2b, b2a)  # two differently initialised decoders
    assert a2b.shape == (3, 64, 64, 3) and a2b.dtype == np.float32
    assert a2b.min() >= 0.0 and a2b.max() <= 1.0  # sigmoid output, the model-tensor range
    with pytest.raises(ValueError, match="a2b"):
        networks.decoder_for("sideways")


def test_original_config_has_the_classic_deepfakes_parameter_count():
    info = model_info("original")
    encoder = (_conv(5, 3, 128) + _conv(5, 128, 256) + _conv(5, 256, 512) + _conv(5, 512, 1024)
               + (4 * 4 * 1024 * 1024 + 1024) + (1024 * 4 * 4 * 1024 + 4 * 4 * 1024) + _conv(3, 1024, 2048))
    decoder = _conv(3, 512, 1024) + _conv(3, 256, 512) + _conv(3, 128, 256) + _conv(5, 64, 3)
    assert info["params_encoder"] == encoder == 69_662_976
    assert info["params_per_decoder"] == decoder == 6_199_747
    assert info["params_total"] == encoder + 2 * decoder == 82_062_470
    # MACs: e.g. the first decoder upscale is 8x8 outputs x 3x3x512 x 1024.
    assert info["macs_per_face_decoder"] == (8 * 8 * 9 * 512 * 1024 + 16 * 16 * 9 * 256 * 512
                                             + 32 * 32 * 9 * 128 * 256 + 64 * 64 * 25 * 64 * 3)


def test_lite_and_tiny_are_the_same_shape_but_smaller():
    original, lite, tiny = (model_info(name) for name in ("original", "lite", "tiny"))
    assert 4_000_000 <= lite["params_total"] <= 8_000_000  # ~5 M: trainable on 2 CPU cores
    assert lite["macs_per_face_swap"] < original["macs_per_face_swap"] / 5
    assert tiny["params_total"] < 1_000_000
    for name in ("original", "lite", "tiny"):
        config = get_config(name)
        assert config.input_size == 64 and config.layout == CLASSIC_MODEL_LAYOUT
        assert len(config.encoder_filters) == 4 and len(config.decoder_filters) == 3


def test_layer_macs_counts_every_convolution_and_dense_layer():
    networks = build_autoencoders("tiny")
    config = networks.config
    expected_encoder = 0
    size, channels = 64, 3
    for filters in config.encoder_filters:
        size //= 2
        expected_encoder += size * size * 25 * channels * filters
        channels = filters
    expected_encoder += size * size * channels * config.encoder_dense
    expected_encoder += config.encoder_dense * 4 * 4 * config.latent_channels
    expected_encoder += 4 * 4 * 9 * config.latent_channels * 4 * config.latent_upscale_filters
    assert layer_macs(networks.encoder) == expected_encoder
    assert layer_macs(networks.autoencoder_a) == layer_macs(networks.encoder) + layer_macs(networks.decoder_a)


def test_config_round_trips_through_json_and_rejects_bad_shapes():
    for config in CONFIGS.values():
        assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown model config"):
        get_config("huge")
    with pytest.raises(ValueError, match="decoder upscales"):
        ModelConfig("bad", decoder_filters=(64, 32))
    with pytest.raises(ValueError, match="unknown model config fields"):
        ModelConfig.from_dict({**CONFIGS["tiny"].to_dict(), "dropout": 0.5})


def test_res96_decoders_have_a_residual_block_after_every_upscale_and_keep_shapes():
    from faceswap.model.architecture import build_autoencoders, get_config

    config = get_config("res96")
    assert config.input_size == 96 and config.encoder_dense > 256
    networks = build_autoencoders(config)
    names = [layer.name for layer in networks.decoder_b.layers]
    assert [n for n in names if n.endswith("_add")] == [f"decoder_b_residual{i}_1_add" for i in (1, 2, 3)]
    faces = np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32)
    out = np.asarray(networks.swap_model("a2b")(faces))
    assert out.shape == (2, 96, 96, 3) and 0.0 <= out.min() and out.max() <= 1.0


def test_lite96_is_lite_at_96_px_only_its_dense_layers_grow():
    lite, lite96 = model_info("lite"), model_info("lite96")
    config = get_config("lite96")
    assert config.input_size == 96 and config.latent_size == 6 and config.decoder_residual_blocks == 0
    # Same filters and 256-wide bottleneck as lite; the flattened 6x6 grid (not 4x4) feeds dense1 and
    # comes out of dense2, every convolution keeps its weights' shape.
    grown = (6 * 6 - 4 * 4) * 256 * 256 + 256 * (6 * 6 - 4 * 4) * 256 + (6 * 6 - 4 * 4) * 256  # W1, W2, b2
    assert lite96["params_encoder"] - lite["params_encoder"] == grown
    assert lite96["params_per_decoder"] == lite["params_per_decoder"]
    networks = build_autoencoders(config)
    faces = np.random.default_rng(2).random((1, 96, 96, 3), dtype=np.float32)
    assert networks.encoder(faces).shape == (1, 12, 12, 128)
    assert np.asarray(networks.swap_model("a2b")(faces)).shape == (1, 96, 96, 3)
