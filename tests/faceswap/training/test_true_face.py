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


def _held_out_verdicts(face_set_a, face_set_b, seed: int = 0, steps: int = 80, rate: float = 1e-3):
    """Train a code discriminator for ``steps`` steps (seed ``seed``) on the `tiny` encoder's codes of
    three quarters of each side's faces and their mirror images; return its mean logits for the
    held-out codes of side A and of side B (float32 (n,), (m,))."""
    import cv2
    import keras

    from faceswap.training.discriminator import logits_loss

    keras.utils.set_random_seed(seed)
    config = get_config("tiny")
    size = config.input_size
    encoder = build_autoencoders("tiny").encoder

    def codes(face_set):
        faces = np.stack([cv2.resize(face_set.model_crop(i), (size, size), interpolation=cv2.INTER_AREA)
                          for i in range(len(face_set))]).astype(np.float32)
        return np.asarray(encoder.predict(faces, verbose=0), dtype=np.float32)

    def split(face_set):
        """(held-out codes, training codes): the first quarter of the faces held out, both with mirror images."""
        faces = codes(face_set)
        held = max(1, len(faces) // 4)
        mirrored = lambda c: np.concatenate([c, c[:, :, ::-1]])  # noqa: E731
        return mirrored(faces[:held]), mirrored(faces[held:])

    (held_a, train_a), (held_b, train_b) = split(face_set_a), split(face_set_b)
    discriminator = build_code_discriminator(config)
    inputs = keras.Input(train_a.shape[1:])
    model = keras.Model(inputs, discriminator(inputs))
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=logits_loss)
    logits_shape = tuple(model.output_shape[1:])
    labels = np.concatenate([np.zeros((8, *logits_shape)), np.ones((8, *logits_shape))]).astype(np.float32)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        model.train_on_batch(np.concatenate([train_a[rng.integers(0, len(train_a), 8)],
                                             train_b[rng.integers(0, len(train_b), 8)]]), labels)
    return (model.predict(held_a, verbose=0).mean(axis=(1, 2, 3)),
            model.predict(held_b, verbose=0).mean(axis=(1, 2, 3)))


def test_it_learns_to_tell_side_a_codes_from_side_b_codes(face_set_a, face_set_b):
    """What it is for: given the shared encoder's codes of d9 (side A) and d12 (side B), after 80
    steps it scores every code of a face it did not train on from side B above every one from side
    A: the direction its gradient then gives the encoder. (Untrained, seeds 0-5 rank 6-75 % of the
    held-out pairs right; trained, each of seeds 0-5 separates them, by 3-10 logits.)"""
    verdict_a, verdict_b = _held_out_verdicts(face_set_a, face_set_b)
    assert len(verdict_a) >= 2 and len(verdict_b) >= 2 and verdict_b.min() > verdict_a.max(), (verdict_a, verdict_b)


def test_the_discriminator_learns_and_comes_back_from_the_checkpoint(tmp_path, face_folders, tiny_settings, caplog):
    model_dir = tmp_path / "model"
    caplog.set_level("INFO", logger="faceswap.training.trainer")
    result = _train(model_dir, face_folders, tiny_settings, 40, 0.1)
    assert result.iteration == 40
    saved = _discriminator_arrays(model_dir)
    assert saved and all(np.isfinite(value).all() for value in saved.values())
    logged = [r.getMessage() for r in caplog.records if "true-face losses" in r.getMessage()]
    assert len(logged) == 4      # every preview interval (10)
    # (what it learns is test_it_learns_to_tell_side_a_codes_from_side_b_codes: a GAN's logged loss
    # need not fall within 40 steps while the encoder pushes back)
    assert all(np.isfinite(float(m.split("discriminator ")[1].split(" /")[0])) for m in logged)

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
