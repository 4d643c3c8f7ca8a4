"""DeepFaceLab's "true face power": an adversarial term on the shared encoder's latent code.

A small convolutional *code discriminator* learns to tell the encoder's code of a side-A face (any
person) from the code of a side-B face (the target), and the encoder is trained to make the codes
of side A look like side B's to it. Decoder B then receives, for a new user's face, a code from the
region of latent space it was trained to draw from, which is what the option is for in DeepFaceLab
(SAEHD ``true_face_power``: "makes the result face look more like the src face"; there ``src`` is
the face that is put in, our side B). Source: DeepFaceLab, ``models/Model_SAEHD/Model.py`` and
``core/leras/models/CodeDiscriminator.py`` (Perov et al., "DeepFaceLab: Integrated, flexible and
extensible face-swapping framework", 2020); the losses are the non-saturating GAN losses of
Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.

Both players train in the one ``train_on_batch`` step (training/train_step.py), with
``keras.ops`` only so that every Keras backend runs it:

* the discriminator reads the codes through ``stop_gradient`` and learns side A -> 0, side B -> 1
  (binary cross-entropy on its logits, weight 1);
* the encoder reads the discriminator with its weights behind ``stop_gradient`` and learns side A
  -> 1 (weight ``LossSettings.true_face_power``, DeepFaceLab's typical value 0.01).

Codes are the encoder's output, float (N, 2L, 2L, C) (L = ``ModelConfig.latent_size``); logits are
float32 (N, H', W', 1), one per patch of the code (H' = 2L / 2**downscales).
"""

from __future__ import annotations

DISCRIMINATOR_NAME = "code_discriminator"
FILTERS = 256  # DeepFaceLab's CodeDiscriminator(ch=256)
SLOPE = 0.1


def _layer_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="faceswap")
    class CodeDiscriminator(keras.layers.Layer):
        """DeepFaceLab's CodeDiscriminator: ``1 + code_size // 8`` strided convolutions (kernel 4, then
        3; 256, 512, ... filters up to 8x) with LeakyReLU 0.1, then a 1x1 convolution to one logit per
        patch. ``call(code, frozen=False)``: with ``frozen`` the weights are read through
        ``stop_gradient`` (the encoder's turn), otherwise the code is (the discriminator's turn)."""

        def __init__(self, code_size: int, code_channels: int, **kwargs) -> None:
            super().__init__(**kwargs)
            self.code_size = int(code_size)
            self.code_channels = int(code_channels)
            self.convs = []
            previous = self.code_channels
            for index in range(1 + self.code_size // 8):
                filters = FILTERS * min(2 ** index, 8)
                kernel = 4 if index == 0 else 3
                self.convs.append((
                    self.add_weight(name=f"conv{index + 1}_kernel", shape=(kernel, kernel, previous, filters),
                                    initializer="glorot_uniform"),
                    self.add_weight(name=f"conv{index + 1}_bias", shape=(filters,), initializer="zeros")))
                previous = filters
            self.output_kernel = self.add_weight(name="output_kernel", shape=(1, 1, previous, 1),
                                                 initializer="glorot_uniform")
            self.output_bias = self.add_weight(name="output_bias", shape=(1,), initializer="zeros")

        def call(self, code, frozen=False):
            def read(weight):
                value = ops.cast(weight, self.compute_dtype)
                return ops.stop_gradient(value) if frozen else value

            x = code if frozen else ops.stop_gradient(code)
            for kernel, bias in self.convs:
                x = ops.conv(x, read(kernel), strides=2, padding="same") + read(bias)
                x = ops.leaky_relu(x, negative_slope=SLOPE)
            logits = ops.conv(x, read(self.output_kernel), strides=1, padding="valid") + read(self.output_bias)
            return ops.cast(logits, "float32")

        def compute_output_shape(self, input_shape):
            size = input_shape[1]
            for _ in self.convs:
                size = None if size is None else -(-size // 2)
            return (input_shape[0], size, size, 1)

        def get_config(self):
            return {**super().get_config(), "code_size": self.code_size, "code_channels": self.code_channels}

    return CodeDiscriminator


_CLASS = None


def build_code_discriminator(config):
    """The code discriminator for ``config`` (a ModelConfig), built (weights created) and named
    ``code_discriminator``: the key its weights have in a checkpoint."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _layer_class()
    size = 2 * config.latent_size
    layer = _CLASS(size, config.latent_upscale_filters, name=DISCRIMINATOR_NAME)
    layer.build((None, size, size, config.latent_upscale_filters))
    return layer


def logits_loss(y_true, y_pred):
    """Binary cross-entropy of logits float32 (N, H', W', 1) against labels of the same shape (0 or 1),
    averaged: a Keras loss ``(y_true, y_pred) -> scalar``."""
    from keras import ops

    return ops.mean(ops.binary_crossentropy(ops.cast(y_true, "float32"), y_pred, from_logits=True))
