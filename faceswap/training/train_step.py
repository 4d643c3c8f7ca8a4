"""The train step and the preview forward pass, written once for every Keras backend.

Both autoencoders are wrapped in ONE Keras model (``build_training_model``): inputs the warped
faces of side A and side B, outputs their reconstructions ``reconstruction_a`` and
``reconstruction_b`` (encoder shared). It is compiled with the same Adam optimizer the
checkpoint saves and with the masked face loss (training/losses.py, ``keras.ops`` only) on each
output, and trained with ``train_on_batch``: Keras itself computes the gradient of
loss A + loss B and applies it, with tf.GradientTape on TensorFlow, ``jax.value_and_grad`` under
``jax.jit`` on JAX and autograd on PyTorch. Nothing here imports a backend.

A loss needs the target face and two masks, so ``y`` of each output packs them into one tensor:
float32 (B, S, S, 5) = BGR target in [0, 1] | face mask [0, 1] | eyes-and-mouth mask [0, 1].

With ``LossSettings.true_face_power`` > 0 the model has two more outputs, the code discriminator's
logits (training/true_face.py): ``true_face_discriminator`` (codes of A then B, labels 0 then 1,
weight 1: the discriminator learns) and ``true_face_encoder`` (codes of A, labels 1, weight
``true_face_power``: the encoder learns), so the one ``train_on_batch`` trains both players.
"""

from __future__ import annotations

import numpy as np

from faceswap.model.architecture import Autoencoders
from faceswap.training.losses import LossSettings, masked_face_loss
from faceswap.training.true_face import logits_loss

OUTPUT_A = "reconstruction_a"
OUTPUT_B = "reconstruction_b"
OUTPUT_DISCRIMINATOR = "true_face_discriminator"
OUTPUT_ENCODER = "true_face_encoder"
TARGET_CHANNELS = 5


def pack_targets(target: np.ndarray, mask: np.ndarray, eyes_mouth: np.ndarray) -> np.ndarray:
    """target BGR float32 (B, S, S, 3), mask and eyes_mouth float32 (B, S, S) -> float32 (B, S, S, 5)."""
    return np.concatenate([target, mask[..., None], eyes_mouth[..., None]], axis=-1, dtype=np.float32)


def packed_face_loss(settings: LossSettings):
    """A Keras loss ``(y_true (B,S,S,5) packed, y_pred (B,S,S,3)) -> scalar``: ``masked_face_loss``."""

    def face_loss(y_true, y_pred):
        return masked_face_loss(y_true[..., :3], y_pred, y_true[..., 3], settings, y_true[..., 4])

    return face_loss


def build_training_model(networks: Autoencoders, discriminator=None):
    """One Keras model: [warped A, warped B] (B, S, S, 3) -> {reconstruction_a, reconstruction_b}
    (+ the two true-face logits outputs when a code ``discriminator`` is given)."""
    import keras

    size = networks.config.input_size
    warped_a = keras.Input((size, size, 3), name="warped_a")
    warped_b = keras.Input((size, size, 3), name="warped_b")
    if discriminator is None:
        output_a = keras.layers.Identity(name=OUTPUT_A)(networks.autoencoder_a(warped_a))
        output_b = keras.layers.Identity(name=OUTPUT_B)(networks.autoencoder_b(warped_b))
        return keras.Model([warped_a, warped_b], {OUTPUT_A: output_a, OUTPUT_B: output_b}, name="faceswap_training")
    code_a = networks.encoder(warped_a)
    code_b = networks.encoder(warped_b)
    outputs = {
        OUTPUT_A: keras.layers.Identity(name=OUTPUT_A)(networks.decoder_a(code_a)),
        OUTPUT_B: keras.layers.Identity(name=OUTPUT_B)(networks.decoder_b(code_b)),
        OUTPUT_DISCRIMINATOR: keras.layers.Concatenate(axis=0, name=OUTPUT_DISCRIMINATOR)(
            [discriminator(code_a), discriminator(code_b)]),
        OUTPUT_ENCODER: keras.layers.Identity(name=OUTPUT_ENCODER)(discriminator(code_a, frozen=True)),
    }
    return keras.Model([warped_a, warped_b], outputs, name="faceswap_training")


class TrainStep:
    """``step(warped_a, target_a, mask_a, eyes_mouth_a, warped_b, target_b, mask_b, eyes_mouth_b)
    -> (loss_a, loss_b)`` as Python floats: one optimizer update of encoder + both decoders.

    Faces: BGR float32 (B, S, S, 3) in [0, 1]; masks: float32 (B, S, S) in [0, 1]. ``optimizer``
    is built for ``trainer.trainable_variables(networks)`` (or restored from a checkpoint) before the
    first step; its learning rate may be assigned between steps.

    With a code ``discriminator`` (training/true_face.py; its variables in the optimizer too) the
    step also trains it and the encoder's true-face term; ``last_true_face`` then holds the two
    logits losses of the last step (discriminator, encoder), else None.
    """

    def __init__(self, networks: Autoencoders, optimizer, loss_settings: LossSettings | None = None,
                 discriminator=None) -> None:
        settings = loss_settings or LossSettings()
        loss = packed_face_loss(settings)
        self.model = build_training_model(networks, discriminator)
        self.discriminator = discriminator
        self.last_true_face: tuple[float, float] | None = None
        losses = {OUTPUT_A: loss, OUTPUT_B: loss}
        weights = {OUTPUT_A: 1.0, OUTPUT_B: 1.0}
        if discriminator is not None:
            losses.update({OUTPUT_DISCRIMINATOR: logits_loss, OUTPUT_ENCODER: logits_loss})
            weights.update({OUTPUT_DISCRIMINATOR: 1.0, OUTPUT_ENCODER: float(settings.true_face_power)})
        # jit_compile "auto": XLA on JAX and on TensorFlow with a GPU; plain graphs on a TensorFlow CPU.
        self.model.compile(optimizer=optimizer, loss=losses, loss_weights=weights)
        self._labels = None

    def _true_face_labels(self, batch_a: int, batch_b: int) -> dict[str, np.ndarray]:
        if self._labels is None or self._labels[0] != (batch_a, batch_b):
            shape = self.model.get_layer(OUTPUT_ENCODER).output.shape[1:]
            self._labels = ((batch_a, batch_b), {
                OUTPUT_DISCRIMINATOR: np.concatenate([np.zeros((batch_a, *shape), np.float32),
                                                      np.ones((batch_b, *shape), np.float32)]),
                OUTPUT_ENCODER: np.ones((batch_a, *shape), np.float32)})
        return self._labels[1]

    def __call__(self, warped_a, target_a, mask_a, eyes_mouth_a, warped_b, target_b, mask_b,
                 eyes_mouth_b) -> tuple[float, float]:
        targets = {OUTPUT_A: pack_targets(target_a, mask_a, eyes_mouth_a),
                   OUTPUT_B: pack_targets(target_b, mask_b, eyes_mouth_b)}
        if self.discriminator is not None:
            targets.update(self._true_face_labels(len(warped_a), len(warped_b)))
        logs = self.model.train_on_batch({"warped_a": warped_a, "warped_b": warped_b}, targets, return_dict=True)
        if self.discriminator is not None:
            self.last_true_face = (float(logs[f"{OUTPUT_DISCRIMINATOR}_loss"]), float(logs[f"{OUTPUT_ENCODER}_loss"]))
        return float(logs[f"{OUTPUT_A}_loss"]), float(logs[f"{OUTPUT_B}_loss"])


def make_train_step(networks: Autoencoders, optimizer, loss_settings: LossSettings | None = None,
                    discriminator=None) -> TrainStep:
    """The backend-neutral train step (see TrainStep)."""
    return TrainStep(networks, optimizer, loss_settings, discriminator)


def make_predict(networks: Autoencoders):
    """``predict(faces_a, faces_b) -> (A->A, A->B, B->B, B->A)``: float32 NumPy (N, S, S, 3) BGR [0, 1]
    for BGR float32 (N, S, S, 3) [0, 1] inputs (eager forward passes; for previews)."""
    from keras import ops

    def run(decoder, latent) -> np.ndarray:
        return np.asarray(ops.convert_to_numpy(decoder(latent, training=False))).astype(np.float32)

    def predict(faces_a: np.ndarray, faces_b: np.ndarray):
        latent_a = networks.encoder(faces_a, training=False)
        latent_b = networks.encoder(faces_b, training=False)
        return (run(networks.decoder_a, latent_a), run(networks.decoder_b, latent_a),
                run(networks.decoder_b, latent_b), run(networks.decoder_a, latent_b))

    return predict
