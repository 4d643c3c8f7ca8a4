"""Fixtures for the training tests: the session test model's real face folders (d9 as side A,
d12 as side B, about a dozen aligned faces each) loaded as face sets, and short `tiny` training
runs on them."""

from __future__ import annotations

import pytest

from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.training.dataset import load_face_set
from faceswap.training.trainer import TrainSettings, Trainer

TINY_TRAINING = dict(config="tiny", batch_size=8, learning_rate=1e-3, save_interval=10, preview_interval=10,
                     prefetch=2, preview_faces=3)


@pytest.fixture(scope="session")
def face_folders(test_model_work):
    """(side A folder, side B folder): real extract output (256 px faces + faces.json). Read-only."""
    return test_model_work / "faces_a", test_model_work / "faces_b"


@pytest.fixture(scope="session")
def face_set_a(face_folders):
    return load_face_set("a", [face_folders[0]], CLASSIC_MODEL_LAYOUT, progress=False)


@pytest.fixture(scope="session")
def face_set_b(face_folders):
    return load_face_set("b", [face_folders[1]], CLASSIC_MODEL_LAYOUT, progress=False)


@pytest.fixture(scope="session")
def blur_trained_discriminator(face_set_b):
    """``train(kind, steps) -> (model, held_out, blur)``: a GAN discriminator of the `tiny` config
    (training/patch_gan.py, ``kind`` patch or unet, seed 0) trained ``steps`` batches of 8 to tell
    d12's real faces (label 1) from the same faces blurred as an autoencoder blurs (Gaussian, sigma
    1.2 px; label 0), on three quarters of the faces and their mirror images. ``model``: a Keras
    model faces -> logits; ``held_out``: the other quarter, float32 (N, S, S, 3) BGR [0, 1], never
    trained on; ``blur(faces)``: the blur."""
    def train(kind: str, steps: int):
        import cv2
        import keras
        import numpy as np

        from faceswap.model.architecture import get_config
        from faceswap.training import patch_gan
        from faceswap.training.discriminator import logits_loss

        keras.utils.set_random_seed(0)
        size = get_config("tiny").input_size
        faces = np.stack([cv2.resize(face_set_b.model_crop(i), (size, size), interpolation=cv2.INTER_AREA)
                          for i in range(len(face_set_b))]).astype(np.float32)
        held_out, trained = faces[:len(faces) // 4], faces[len(faces) // 4:]
        trained = np.concatenate([trained, trained[:, :, ::-1]])
        blur = lambda images: np.stack([cv2.GaussianBlur(face, (0, 0), 1.2) for face in images])  # noqa: E731
        inputs = keras.Input((size, size, 3))
        model = keras.Model(inputs, patch_gan.build_patch_discriminator(get_config("tiny"), kind)(inputs))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=logits_loss)
        shape = tuple(model.output.shape[1:])
        labels = np.concatenate([np.zeros((8, *shape)), np.ones((8, *shape))]).astype(np.float32)
        rng = np.random.default_rng(0)
        soft_trained = blur(trained)
        for _ in range(steps):
            pick = rng.integers(0, len(trained), 8)
            model.train_on_batch(np.concatenate([soft_trained[pick], trained[pick]]), labels)
        return model, held_out, blur
    return train


@pytest.fixture(scope="session")
def tiny_settings():
    """``tiny_settings(**overrides) -> TrainSettings``: a short `tiny` run (batch 8, lr 1e-3, a save and a
    preview every 10 iterations), any field overridden."""
    def make(**overrides) -> TrainSettings:
        return TrainSettings(**{**TINY_TRAINING, **overrides})
    return make


@pytest.fixture(scope="session")
def train_tiny(face_folders, tiny_settings):
    """``train_tiny(model_dir, iterations, **overrides) -> TrainResult``: train (or resume) ``model_dir``
    to ``iterations`` on the real face folders with ``tiny_settings(**overrides)``, no progress bar."""
    def train(model_dir, iterations, **overrides):
        side_a, side_b = face_folders
        settings = tiny_settings(iterations=iterations, **overrides)
        return Trainer([side_a], [side_b], model_dir, settings, progress=False).run()
    return train


@pytest.fixture(scope="session")
def gradient_turns():
    """``gradient_turns(discriminator, inputs) -> {False: (logits, to_inputs, to_weights), True: ...}``:
    one forward pass per turn (``frozen`` False: the discriminator's, True: the generator's) of a
    training/discriminator.py layer on the float32 NumPy ``inputs``, with the gradients of the
    logits' sum (tf.GradientTape) to the inputs and to each weight (None where none flows)."""
    def turns(discriminator, inputs):
        import tensorflow as tf

        inputs = tf.Variable(inputs)
        weights = discriminator.trainable_variables
        result = {}
        for frozen in (False, True):
            with tf.GradientTape() as tape:
                logits = discriminator(inputs, frozen=frozen)
                total = tf.reduce_sum(logits)
            gradients = tape.gradient(total, [inputs, *weights])
            result[frozen] = (logits, gradients[0], gradients[1:])
        return result
    return turns
