"""DeepFaceLab's "GAN power": an adversarial term on decoder B's faces, for detail.

An autoencoder trained on DSSIM + MSE alone draws the average of what could be there, so skin
texture, hair strands and eyelashes come out soft. A small *patch discriminator* learns to tell
side B's real faces from decoder B's reconstructions of them, one verdict per patch of the face, and
the encoder and decoder B are trained to make their faces pass for real ones: the texture that the
reconstruction loss averages away is what the discriminator sees. Source: DeepFaceLab SAEHD
``gan_power`` (``models/Model_SAEHD/Model.py``; Perov et al., "DeepFaceLab: Integrated, flexible
and extensible face-swapping framework", 2020): its discriminator reads the masked reconstruction
of the face that is put in (DeepFaceLab's ``src``, our side B) against the masked real face, and
the generator term is added with weight ``gan_power`` (typical 0.1), on a model that is already
trained. DeepFaceLab's discriminator is a U-Net patch discriminator (Schonfeld et al., CVPR 2020);
this one is the plainer PatchGAN of pix2pix (Isola et al., "Image-to-Image Translation with
Conditional Adversarial Networks", CVPR 2017): three strided 4x4 convolutions (32, 64, 128
filters, LeakyReLU 0.2, no normalisation) and a 1x1 convolution to one logit per patch, a
receptive field of 22 px (a quarter of a 96-px face), about 45 M multiply-accumulates per face at
96 px, a few per cent of the autoencoder's step on a CPU. Losses are the non-saturating GAN losses
of Goodfellow et al., NeurIPS 2014.

Both players train in the one ``train_on_batch`` step (training/train_step.py), ``keras.ops`` only:

* the discriminator reads the faces through ``stop_gradient`` and learns reconstruction -> 0,
  real face -> 1 (binary cross-entropy on its logits, weight 1);
* encoder and decoder B read the discriminator with its weights behind ``stop_gradient`` and learn
  reconstruction -> 1 (weight ``LossSettings.gan_power``).

Faces are BGR float (N, S, S, 3) in [0, 1], multiplied by the face mask; logits are float32
(N, S/8, S/8, 1).
"""

from __future__ import annotations

DISCRIMINATOR_NAME = "patch_discriminator"
FILTERS = (32, 64, 128)
KERNEL = 4
SLOPE = 0.2


def _layer_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="faceswap")
    class PatchDiscriminator(keras.layers.Layer):
        """pix2pix's PatchGAN discriminator (module docstring). ``call(faces, frozen=False)``: with
        ``frozen`` the weights are read through ``stop_gradient`` (the generator's turn), otherwise
        the faces are (the discriminator's turn)."""

        def __init__(self, face_size: int, **kwargs) -> None:
            super().__init__(**kwargs)
            self.face_size = int(face_size)
            self.convs = []
            previous = 3
            for index, filters in enumerate(FILTERS):
                self.convs.append((
                    self.add_weight(name=f"conv{index + 1}_kernel", shape=(KERNEL, KERNEL, previous, filters),
                                    initializer="glorot_uniform"),
                    self.add_weight(name=f"conv{index + 1}_bias", shape=(filters,), initializer="zeros")))
                previous = filters
            self.output_kernel = self.add_weight(name="output_kernel", shape=(1, 1, previous, 1),
                                                 initializer="glorot_uniform")
            self.output_bias = self.add_weight(name="output_bias", shape=(1,), initializer="zeros")

        def call(self, faces, frozen=False):
            def read(weight):
                value = ops.cast(weight, self.compute_dtype)
                return ops.stop_gradient(value) if frozen else value

            x = ops.cast(faces if frozen else ops.stop_gradient(faces), self.compute_dtype)
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
            return {**super().get_config(), "face_size": self.face_size}

    return PatchDiscriminator


_CLASS = None


def build_patch_discriminator(config):
    """The patch discriminator for ``config`` (a ModelConfig), built (weights created) and named
    ``patch_discriminator``: the key its weights have in a checkpoint."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _layer_class()
    size = config.input_size
    layer = _CLASS(size, name=DISCRIMINATOR_NAME)
    layer.build((None, size, size, 3))
    return layer
