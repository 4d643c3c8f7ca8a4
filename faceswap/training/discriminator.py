"""The one discriminator layer of the training-only adversarial terms, and their loss.

Both of DeepFaceLab's adversarial options are a stack of strided convolutions with LeakyReLU and a
1x1 convolution to one logit per patch, trained in the same ``train_on_batch`` as the autoencoder
(training/train_step.py): true face power judges the encoder's code (training/true_face.py), GAN
power decoder B's faces (training/patch_gan.py). They differ only in their filters, kernels and
slope, so both are a ``ConvDiscriminator``.

``call(inputs, frozen=False)`` gives each player its own turn, with ``keras.ops`` only (every Keras
backend runs it): the discriminator's turn reads the inputs through ``stop_gradient`` (only its
weights learn); with ``frozen`` the generator's turn reads the weights through ``stop_gradient``
(only what produced the inputs learns). Inputs are float (N, H, W, C) in any dtype (cast to the
layer's compute dtype); logits are float32 (N, ceil(H / 2**k), ceil(W / 2**k), 1) for k
convolutions. The losses are the non-saturating GAN losses of Goodfellow et al., "Generative
Adversarial Nets", NeurIPS 2014 (``logits_loss``).
"""

from __future__ import annotations

_CLASS = None


def _layer_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="faceswap")
    class ConvDiscriminator(keras.layers.Layer):
        """Strided (stride 2, "same") convolutions of ``filters`` with ``kernels``, LeakyReLU
        ``slope`` after each, then a 1x1 convolution to one logit per patch. Weights are named
        ``conv<i>_kernel`` / ``conv<i>_bias`` and ``output_kernel`` / ``output_bias``."""

        def __init__(self, input_channels: int, filters, kernels, slope: float, **kwargs) -> None:
            super().__init__(**kwargs)
            self.input_channels = int(input_channels)
            self.filters = [int(f) for f in filters]
            self.kernels = [int(k) for k in kernels]
            self.slope = float(slope)
            if len(self.filters) != len(self.kernels) or not self.filters:
                raise ValueError(f"one kernel size per convolution, not {self.filters} / {self.kernels}")
            self.convs = []
            previous = self.input_channels
            for index, (filters_, kernel) in enumerate(zip(self.filters, self.kernels)):
                self.convs.append((
                    self.add_weight(name=f"conv{index + 1}_kernel", shape=(kernel, kernel, previous, filters_),
                                    initializer="glorot_uniform"),
                    self.add_weight(name=f"conv{index + 1}_bias", shape=(filters_,), initializer="zeros")))
                previous = filters_
            self.output_kernel = self.add_weight(name="output_kernel", shape=(1, 1, previous, 1),
                                                 initializer="glorot_uniform")
            self.output_bias = self.add_weight(name="output_bias", shape=(1,), initializer="zeros")

        def call(self, inputs, frozen=False):
            def read(weight):
                value = ops.cast(weight, self.compute_dtype)
                return ops.stop_gradient(value) if frozen else value

            x = ops.cast(inputs if frozen else ops.stop_gradient(inputs), self.compute_dtype)
            for kernel, bias in self.convs:
                x = ops.conv(x, read(kernel), strides=2, padding="same") + read(bias)
                x = ops.leaky_relu(x, negative_slope=self.slope)
            logits = ops.conv(x, read(self.output_kernel), strides=1, padding="valid") + read(self.output_bias)
            return ops.cast(logits, "float32")

        def compute_output_shape(self, input_shape):
            size = input_shape[1]
            for _ in self.convs:
                size = None if size is None else -(-size // 2)
            return (input_shape[0], size, size, 1)

        def get_config(self):
            return {**super().get_config(), "input_channels": self.input_channels, "filters": self.filters,
                    "kernels": self.kernels, "slope": self.slope}

    return ConvDiscriminator


def build_discriminator(name: str, input_size: int, input_channels: int, filters, kernels, slope: float):
    """A ``ConvDiscriminator`` named ``name`` (the key of its weights in a checkpoint), built for
    (None, input_size, input_size, input_channels) inputs."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _layer_class()
    layer = _CLASS(input_channels, filters, kernels, slope, name=name)
    layer.build((None, input_size, input_size, input_channels))
    return layer


def logits_loss(y_true, y_pred):
    """Binary cross-entropy of logits float32 (N, H', W', 1) against labels of the same shape (0 or 1),
    averaged: a Keras loss ``(y_true, y_pred) -> scalar``."""
    from keras import ops

    return ops.mean(ops.binary_crossentropy(ops.cast(y_true, "float32"), y_pred, from_logits=True))
