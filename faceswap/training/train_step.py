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
``LossSettings.gan_power`` > 0 adds ``gan_discriminator`` and ``gan_generator`` the same way, on
decoder B's masked faces (training/patch_gan.py; weight ``gan_power`` x the discriminator's
``verdict_maps``).
"""

from __future__ import annotations

import numpy as np

from faceswap.model.architecture import Autoencoders
from faceswap.training.losses import LossSettings, masked_face_loss
from faceswap.training.discriminator import logits_loss

OUTPUT_A = "reconstruction_a"
OUTPUT_B = "reconstruction_b"
OUTPUT_DISCRIMINATOR = "true_face_discriminator"
OUTPUT_ENCODER = "true_face_encoder"
OUTPUT_GAN_DISCRIMINATOR = "gan_discriminator"
OUTPUT_GAN_GENERATOR = "gan_generator"
TARGET_CHANNELS = 5


def pack_targets(target: np.ndarray, mask: np.ndarray, eyes_mouth: np.ndarray) -> np.ndarray:
    """target BGR float32 (B, S, S, 3), mask and eyes_mouth float32 (B, S, S) -> float32 (B, S, S, 5)."""
    return np.concatenate([target, mask[..., None], eyes_mouth[..., None]], axis=-1, dtype=np.float32)


def packed_face_loss(settings: LossSettings):
    """A Keras loss ``(y_true (B,S,S,5) packed, y_pred (B,S,S,3)) -> scalar``: ``masked_face_loss``."""

    def face_loss(y_true, y_pred):
        return masked_face_loss(y_true[..., :3], y_pred, y_true[..., 3], settings, y_true[..., 4])

    return face_loss


def trainable_variables(networks: Autoencoders) -> list:
    """The networks' trainable variables in the optimizer's (and the checkpoint's) order: encoder,
    decoder A, decoder B."""
    return (list(networks.encoder.trainable_variables) + list(networks.decoder_a.trainable_variables)
            + list(networks.decoder_b.trainable_variables))


def _ordered_model(inputs, outputs, variables: list, name: str):
    """A functional Keras model whose trainable variables come in the order of ``variables`` (the
    optimizer's), not in its graph's: Keras sorts a functional model's layers by depth, and on JAX the
    optimizer applies the gradients by position. ValueError unless ``variables`` are exactly the
    model's trainable variables."""
    import keras

    class OrderedModel(keras.Model):
        def __init__(self, inputs, outputs, name):
            super().__init__(inputs, outputs, name=name)

        @property
        def trainable_weights(self):
            return ordered()

        @property
        def trainable_variables(self):
            return ordered()

    model = OrderedModel(inputs, outputs, name)
    graph_order = list(keras.Model.trainable_weights.fget(model))
    if sorted(map(id, graph_order)) != sorted(map(id, variables)):
        raise ValueError("the training model's variables are not those of the optimizer")
    ordered = lambda: list(variables)  # noqa: E731  (a function: Keras does not track it as weights)
    return model


def build_training_model(networks: Autoencoders, discriminator=None, patch_discriminator=None):
    """One Keras model: [warped A, warped B] (B, S, S, 3) -> {reconstruction_a, reconstruction_b}
    (+ the two true-face logits outputs when a code ``discriminator`` is given, + inputs real_b
    (B, S, S, 3) and mask_b (B, S, S, 1) and the two GAN logits outputs when a
    ``patch_discriminator`` is given). Its trainable variables come in the optimizer's order:
    ``trainable_variables(networks)``, then the code discriminator's, then the patch discriminator's."""
    import keras

    size = networks.config.input_size
    warped_a = keras.Input((size, size, 3), name="warped_a")
    warped_b = keras.Input((size, size, 3), name="warped_b")
    if discriminator is None and patch_discriminator is None:
        output_a = keras.layers.Identity(name=OUTPUT_A)(networks.autoencoder_a(warped_a))
        output_b = keras.layers.Identity(name=OUTPUT_B)(networks.autoencoder_b(warped_b))
        return _ordered_model([warped_a, warped_b], {OUTPUT_A: output_a, OUTPUT_B: output_b},
                              trainable_variables(networks), "faceswap_training")
    inputs = {"warped_a": warped_a, "warped_b": warped_b}
    code_a = networks.encoder(warped_a)
    code_b = networks.encoder(warped_b)
    reconstruction_a = networks.decoder_a(code_a)
    reconstruction_b = networks.decoder_b(code_b)
    outputs = {
        OUTPUT_A: keras.layers.Identity(name=OUTPUT_A)(reconstruction_a),
        OUTPUT_B: keras.layers.Identity(name=OUTPUT_B)(reconstruction_b),
    }
    if discriminator is not None:
        outputs[OUTPUT_DISCRIMINATOR] = keras.layers.Concatenate(axis=0, name=OUTPUT_DISCRIMINATOR)(
            [discriminator(code_a), discriminator(code_b)])
        outputs[OUTPUT_ENCODER] = keras.layers.Identity(name=OUTPUT_ENCODER)(discriminator(code_a, frozen=True))
    if patch_discriminator is not None:
        inputs["real_b"] = keras.Input((size, size, 3), name="real_b")
        inputs["mask_b"] = keras.Input((size, size, 1), name="mask_b")
        fake_b = keras.layers.Multiply(dtype="float32")([reconstruction_b, inputs["mask_b"]])
        outputs[OUTPUT_GAN_DISCRIMINATOR] = keras.layers.Concatenate(axis=0, name=OUTPUT_GAN_DISCRIMINATOR)(
            [patch_discriminator(fake_b), patch_discriminator(inputs["real_b"])])
        outputs[OUTPUT_GAN_GENERATOR] = keras.layers.Identity(name=OUTPUT_GAN_GENERATOR)(
            patch_discriminator(fake_b, frozen=True))
    variables = trainable_variables(networks) + [variable for part in (discriminator, patch_discriminator)
                                                 if part is not None for variable in part.trainable_variables]
    return _ordered_model(inputs, outputs, variables, "faceswap_training")


class TrainStep:
    """``step(warped_a, target_a, mask_a, eyes_mouth_a, warped_b, target_b, mask_b, eyes_mouth_b)
    -> (loss_a, loss_b)`` as Python floats: one optimizer update of encoder + both decoders.

    Faces: BGR float32 (B, S, S, 3) in [0, 1]; masks: float32 (B, S, S) in [0, 1]. ``optimizer``
    is built for ``trainer.trainable_variables(networks)`` (or restored from a checkpoint) before the
    first step; its learning rate may be assigned between steps.

    With a code ``discriminator`` (training/true_face.py) and/or a ``patch_discriminator``
    (training/patch_gan.py), their variables in the optimizer too, the step also trains them and
    their generator terms; ``last_true_face`` / ``last_gan`` then hold the two logits losses of the
    last step (discriminator, generator), else None.
    """

    def __init__(self, networks: Autoencoders, optimizer, loss_settings: LossSettings | None = None,
                 discriminator=None, patch_discriminator=None) -> None:
        settings = loss_settings or LossSettings()
        loss = packed_face_loss(settings)
        self.model = build_training_model(networks, discriminator, patch_discriminator)
        self.discriminator = discriminator
        self.patch_discriminator = patch_discriminator
        self.last_true_face: tuple[float, float] | None = None
        self.last_gan: tuple[float, float] | None = None
        losses = {OUTPUT_A: loss, OUTPUT_B: loss}
        weights = {OUTPUT_A: 1.0, OUTPUT_B: 1.0}
        if discriminator is not None:
            losses.update({OUTPUT_DISCRIMINATOR: logits_loss, OUTPUT_ENCODER: logits_loss})
            weights.update({OUTPUT_DISCRIMINATOR: 1.0, OUTPUT_ENCODER: float(settings.true_face_power)})
        if patch_discriminator is not None:
            losses.update({OUTPUT_GAN_DISCRIMINATOR: logits_loss, OUTPUT_GAN_GENERATOR: logits_loss})
            # a discriminator with several verdict maps (the U-Net's per-pixel and coarse logits) gives
            # their mean; DeepFaceLab sums the maps' losses, so the generator's weight counts them
            maps = int(getattr(patch_discriminator, "verdict_maps", 1))
            weights.update({OUTPUT_GAN_DISCRIMINATOR: 1.0, OUTPUT_GAN_GENERATOR: float(settings.gan_power) * maps})
        # jit_compile "auto": XLA on JAX and on TensorFlow with a GPU; plain graphs on a TensorFlow CPU.
        self.loss_weights = weights
        self.model.compile(optimizer=optimizer, loss=losses, loss_weights=weights)
        self._labels: dict[tuple, dict[str, np.ndarray]] = {}

    def _adversarial_labels(self, batch_a: int, batch_b: int) -> dict[str, np.ndarray]:
        """The label tensors of the adversarial outputs (made once per batch shape): generated or
        side A -> 0, real or side B -> 1 for the discriminators; 1 for the generator terms."""
        key = (batch_a, batch_b)
        if key not in self._labels:
            labels = {}
            pairs = ((OUTPUT_DISCRIMINATOR, OUTPUT_ENCODER, batch_a, batch_b) if self.discriminator is not None else None,
                     (OUTPUT_GAN_DISCRIMINATOR, OUTPUT_GAN_GENERATOR, batch_b, batch_b)
                     if self.patch_discriminator is not None else None)
            for pair in filter(None, pairs):
                judge, generator, fakes, reals = pair
                shape = self.model.get_layer(generator).output.shape[1:]
                labels[judge] = np.concatenate([np.zeros((fakes, *shape), np.float32),
                                                np.ones((reals, *shape), np.float32)])
                labels[generator] = np.ones((fakes, *shape), np.float32)
            self._labels[key] = labels
        return self._labels[key]

    def __call__(self, warped_a, target_a, mask_a, eyes_mouth_a, warped_b, target_b, mask_b,
                 eyes_mouth_b) -> tuple[float, float]:
        targets = {OUTPUT_A: pack_targets(target_a, mask_a, eyes_mouth_a),
                   OUTPUT_B: pack_targets(target_b, mask_b, eyes_mouth_b)}
        inputs = {"warped_a": warped_a, "warped_b": warped_b}
        if self.patch_discriminator is not None:
            inputs["mask_b"] = np.asarray(mask_b, np.float32)[..., None]
            inputs["real_b"] = np.asarray(target_b, np.float32) * inputs["mask_b"]
        if self.discriminator is not None or self.patch_discriminator is not None:
            targets.update(self._adversarial_labels(len(warped_a), len(warped_b)))
        logs = self.model.train_on_batch(inputs, targets, return_dict=True)
        if self.discriminator is not None:
            self.last_true_face = (float(logs[f"{OUTPUT_DISCRIMINATOR}_loss"]), float(logs[f"{OUTPUT_ENCODER}_loss"]))
        if self.patch_discriminator is not None:
            self.last_gan = (float(logs[f"{OUTPUT_GAN_DISCRIMINATOR}_loss"]), float(logs[f"{OUTPUT_GAN_GENERATOR}_loss"]))
        return float(logs[f"{OUTPUT_A}_loss"]), float(logs[f"{OUTPUT_B}_loss"])


def make_train_step(networks: Autoencoders, optimizer, loss_settings: LossSettings | None = None,
                    discriminator=None, patch_discriminator=None) -> TrainStep:
    """The backend-neutral train step (see TrainStep)."""
    return TrainStep(networks, optimizer, loss_settings, discriminator, patch_discriminator)


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
