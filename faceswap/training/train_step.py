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
"""

from __future__ import annotations

import numpy as np

from faceswap.model.architecture import Autoencoders
from faceswap.training.losses import LossSettings, masked_face_loss

OUTPUT_A = "reconstruction_a"
OUTPUT_B = "reconstruction_b"
TARGET_CHANNELS = 5


def pack_targets(target: np.ndarray, mask: np.ndarray, eyes_mouth: np.ndarray) -> np.ndarray:
    """target BGR float32 (B, S, S, 3), mask and eyes_mouth float32 (B, S, S) -> float32 (B, S, S, 5)."""
    return np.concatenate([target, mask[..., None], eyes_mouth[..., None]], axis=-1, dtype=np.float32)


def packed_face_loss(settings: LossSettings):
    """A Keras loss ``(y_true (B,S,S,5) packed, y_pred (B,S,S,3)) -> scalar``: ``masked_face_loss``."""

    def face_loss(y_true, y_pred):
        return masked_face_loss(y_true[..., :3], y_pred, y_true[..., 3], settings, y_true[..., 4])

    return face_loss


def build_training_model(networks: Autoencoders):
    """One Keras model: [warped A, warped B] (B, S, S, 3) -> {reconstruction_a, reconstruction_b}."""
    import keras

    size = networks.config.input_size
    warped_a = keras.Input((size, size, 3), name="warped_a")
    warped_b = keras.Input((size, size, 3), name="warped_b")
    output_a = keras.layers.Identity(name=OUTPUT_A)(networks.autoencoder_a(warped_a))
    output_b = keras.layers.Identity(name=OUTPUT_B)(networks.autoencoder_b(warped_b))
    return keras.Model([warped_a, warped_b], {OUTPUT_A: output_a, OUTPUT_B: output_b}, name="faceswap_training")


class TrainStep:
    """``step(warped_a, target_a, mask_a, eyes_mouth_a, warped_b, target_b, mask_b, eyes_mouth_b)
    -> (loss_a, loss_b)`` as Python floats: one optimizer update of encoder + both decoders.

    Faces: BGR float32 (B, S, S, 3) in [0, 1]; masks: float32 (B, S, S) in [0, 1]. ``optimizer``
    is built for ``trainer.trainable_variables(networks)`` (or restored from a checkpoint) before the
    first step; its learning rate may be assigned between steps.
    """

    def __init__(self, networks: Autoencoders, optimizer, loss_settings: LossSettings | None = None) -> None:
        loss = packed_face_loss(loss_settings or LossSettings())
        self.model = build_training_model(networks)
        # jit_compile "auto": XLA on JAX and on TensorFlow with a GPU; plain graphs on a TensorFlow CPU.
        self.model.compile(optimizer=optimizer, loss={OUTPUT_A: loss, OUTPUT_B: loss})

    def __call__(self, warped_a, target_a, mask_a, eyes_mouth_a, warped_b, target_b, mask_b,
                 eyes_mouth_b) -> tuple[float, float]:
        logs = self.model.train_on_batch(
            {"warped_a": warped_a, "warped_b": warped_b},
            {OUTPUT_A: pack_targets(target_a, mask_a, eyes_mouth_a),
             OUTPUT_B: pack_targets(target_b, mask_b, eyes_mouth_b)},
            return_dict=True)
        return float(logs[f"{OUTPUT_A}_loss"]), float(logs[f"{OUTPUT_B}_loss"])


def make_train_step(networks: Autoencoders, optimizer, loss_settings: LossSettings | None = None) -> TrainStep:
    """The backend-neutral train step (see TrainStep)."""
    return TrainStep(networks, optimizer, loss_settings)


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
