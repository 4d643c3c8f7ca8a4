"""The true-face term (training/true_face.py): the code discriminator's two turns send gradients
where they belong, it learns to tell side A's codes from side B's on real faces, its weights and
Adam state live in the checkpoint and come back on resume, and a checkpoint made without it
(every model trained so far) resumes with it."""

from __future__ import annotations

import numpy as np

from faceswap.model.architecture import build_autoencoders, get_config
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.losses import LossSettings
from faceswap.training.trainer import Trainer
from faceswap.training.true_face import DISCRIMINATOR_NAME, build_code_discriminator


def _train(model_dir, face_folders, tiny_settings, iterations, power, **overrides):
    side_a, side_b = face_folders
    trainer = Trainer([side_a], [side_b], model_dir, tiny_settings(iterations=iterations, **overrides),
                      loss=LossSettings(eyes_mouth_weight=0, true_face_power=power), progress=False)
    return trainer.run()


def _discriminator_arrays(model_dir) -> dict[str, np.ndarray]:
    checkpoint = load_checkpoint(model_dir)
    return {key: value for key, value in checkpoint.arrays.items() if key.startswith(f"{DISCRIMINATOR_NAME}/")}


def test_each_turn_sends_its_gradient_to_one_player_only(gradient_turns):
    import tensorflow as tf

    config = get_config("tiny")
    discriminator = build_code_discriminator(config)
    code_size = 2 * config.latent_size
    code = np.random.default_rng(0).normal(size=(4, code_size, code_size, config.latent_upscale_filters)).astype(np.float32)
    # DeepFaceLab's CodeDiscriminator: 1 + code_size // 8 strided convolutions, then one logit per patch
    assert len(discriminator.convs) == 1 + code_size // 8
    expected = code_size
    for _ in discriminator.convs:
        expected = -(-expected // 2)
    for frozen, (logits, to_code, to_weights) in gradient_turns(discriminator, code).items():
        assert tuple(logits.shape) == (4, expected, expected, 1) and logits.dtype == tf.float32
        if frozen:   # the encoder's turn: through the code, the discriminator's weights untouched
            assert to_code is not None and float(tf.reduce_max(tf.abs(to_code))) > 0
            assert all(g is None for g in to_weights)
        else:        # the discriminator's turn: its weights learn, the code is only read
            assert to_code is None
            assert all(g is not None for g in to_weights)
            assert float(tf.reduce_max(tf.abs(to_weights[-2]))) > 0


def test_the_discriminator_learns_and_comes_back_from_the_checkpoint(tmp_path, face_folders, tiny_settings, caplog):
    model_dir = tmp_path / "model"
    caplog.set_level("INFO", logger="faceswap.training.trainer")
    result = _train(model_dir, face_folders, tiny_settings, 40, 0.1)
    assert result.iteration == 40
    saved = _discriminator_arrays(model_dir)
    assert saved and all(np.isfinite(value).all() for value in saved.values())
    logged = [r.getMessage() for r in caplog.records if "true-face losses" in r.getMessage()]
    assert len(logged) == 4      # every preview interval (10)
    first, last = (float(m.split("discriminator ")[1].split(" /")[0]) for m in (logged[0], logged[-1]))
    # d9 and d12 are two people: after 40 steps the discriminator tells their codes apart better than chance
    assert last < np.log(2) and last < first

    # resuming restores its weights (an unchanged copy when nothing more is trained) and its Adam state
    checkpoint = load_checkpoint(model_dir)
    optimizer_entries = sum(key.startswith("optimizer/") for key in checkpoint.arrays)
    networks = build_autoencoders("tiny")
    weights = len(networks.encoder.weights) + len(networks.decoder_a.weights) + len(networks.decoder_b.weights)
    assert optimizer_entries == 1 + 2 * (weights + len(saved))  # iteration + (momentum, velocity) per variable
    _train(model_dir, face_folders, tiny_settings, 50, 0.1)
    resumed = _discriminator_arrays(model_dir)
    assert resumed.keys() == saved.keys()
    assert any(not np.array_equal(resumed[key], saved[key]) for key in saved)   # trained on, not started over


def test_a_checkpoint_made_without_it_resumes_with_it(tmp_path, face_folders, tiny_settings, caplog):
    model_dir = tmp_path / "model"
    _train(model_dir, face_folders, tiny_settings, 20, 0.0)
    assert not _discriminator_arrays(model_dir)
    before = load_checkpoint(model_dir)
    caplog.set_level("INFO", logger="faceswap.training.trainer")
    result = _train(model_dir, face_folders, tiny_settings, 30, 0.01)
    assert result.iteration == 30
    assert any("has no code discriminator: it starts afresh" in r.getMessage() for r in caplog.records)
    after = load_checkpoint(model_dir)
    assert _discriminator_arrays(model_dir)
    # the networks' Adam state was carried on (not zeroed): the saved optimizer grew by the discriminator's
    networks_entries = sum(key.startswith("optimizer/") for key in before.arrays)
    assert sum(key.startswith("optimizer/") for key in after.arrays) == networks_entries + 2 * len(
        _discriminator_arrays(model_dir))
    # and turning the term off again resumes it too: the discriminator and its Adam state are left out
    caplog.clear()
    result = _train(model_dir, face_folders, tiny_settings, 35, 0.0)
    assert result.iteration == 35
    assert any("(true face power 0.01) that this run does not use" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
    assert not _discriminator_arrays(model_dir)
    assert sum(key.startswith("optimizer/") for key in load_checkpoint(model_dir).arrays) == networks_entries
    assert load_checkpoint(model_dir).meta["true_face_power"] == 0.0   # the meta says what the last run used
