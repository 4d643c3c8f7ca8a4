"""DeepFaceLab's U-Net patch discriminator: one verdict per face region *and* one per pixel.

The plain PatchGAN (training/discriminator.py's ``ConvDiscriminator``) sees 22-px patches and gives
one logit per 8x8 block, so it can judge texture but not whether the face as a whole, or a single
fine line, looks real. Schonfeld, Schiele and Khoreva ("A U-Net Based Discriminator for Generative
Adversarial Networks", CVPR 2020) give the discriminator an encoder-decoder shape: the encoder's
bottleneck gives a coarse verdict, the decoder (with skip connections from the encoder) one verdict
per pixel, so the generator is told *where* its face looks drawn. DeepFaceLab's SAEHD uses such a
discriminator for its ``gan_power`` (``core/leras/models/PatchDiscriminator.py``,
``UNetPatchDiscriminator``; Perov et al. 2020): all 3x3 convolutions, the first one stride 2 and
the others stride 1 or 2, chosen so that the bottleneck's receptive field is the closest to
``gan_patch_size`` (its default: a eighth of the face, 12 px at 96 px), channels ``base`` x 2**level
(``gan_dims`` 16), LeakyReLU 0.2, transposed convolutions back up with the encoder's features
concatenated, a 1x1 convolution to the per-pixel logits and one on the bottleneck to the coarse
logits. Its loss is the mean binary cross-entropy of each map, the two summed. This one leaves out
the residual blocks that DeepFaceLab's latest version puts at every level (four 3x3 convolutions a
level: 4-5x the cost, more than these CPUs can give a training step).

``call(inputs, frozen=False)`` takes the two players' turns exactly as ``ConvDiscriminator`` does
(``keras.ops`` only; every Keras backend runs it). Inputs: float (N, S, S, C), S divisible by the
product of the strides (4 at the default patch size). Output: float32 (N, S, S, 2): channel 0 the
per-pixel logits, channel 1 the coarse logits repeated over the pixels each one judges (nearest
neighbour), so that the mean binary cross-entropy of the whole map is the mean of the two maps'
(``verdict_maps`` = 2: the generator's term is weighted ``gan_power`` x 2 to give DeepFaceLab's sum;
training/train_step.py).
"""

from __future__ import annotations

import math

SLOPE = 0.2
KERNEL = 3
MAX_CHANNELS = 512

_CLASS = None


def receptive_field(strides) -> int:
    """The receptive field in px of a stack of 3x3 convolutions with ``strides`` (first to last)."""
    field = 1
    for stride in reversed(list(strides)):
        field = (field - 1) * stride + KERNEL
    return field


def choose_strides(patch_size: int, max_layers: int = 9) -> list[int]:
    """DeepFaceLab's ``find_archi``: the strides of the encoder's 3x3 convolutions (the first 2, each
    other 1 or 2) whose receptive field is the closest to ``patch_size`` px; among equals the fewest
    layers, then the most downsampling. ValueError for ``patch_size`` < 1."""
    if patch_size < 1:
        raise ValueError(f"the patch size must be at least 1 px, not {patch_size}")
    best: dict[int, tuple[int, int, list[int]]] = {}
    for layers in range(1, max_layers + 1):
        for bits in range(2 ** (layers - 1)):
            strides = [2] + [2 if bits & (1 << i) else 1 for i in range(layers - 1)]
            field = receptive_field(strides)
            key = (layers, -sum(strides))
            if field not in best or key < best[field][:2]:
                best[field] = (layers, -sum(strides), strides)
    field = min(sorted(best), key=lambda value: abs(value - patch_size))
    return best[field][2]


def _layer_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="faceswap")
    class UNetDiscriminator(keras.layers.Layer):
        """See the module docstring. Weights: ``in_kernel/bias`` (1x1 to ``base`` channels),
        ``down<i>_kernel/bias``, ``center_kernel/bias`` and ``coarse_kernel/bias`` (1x1 at the
        bottleneck), ``up<i>_kernel/bias`` (transposed) and ``out_kernel/bias`` (1x1 to one logit)."""

        verdict_maps = 2

        def __init__(self, input_channels: int, strides, base: int, slope: float = SLOPE, **kwargs) -> None:
            super().__init__(**kwargs)
            self.input_channels = int(input_channels)
            self.strides = [int(s) for s in strides]
            self.base = int(base)
            self.slope = float(slope)
            if not self.strides or any(s not in (1, 2) for s in self.strides):
                raise ValueError(f"strides must be 1 or 2, not {self.strides}")
            channels = [min(self.base * 2 ** level, MAX_CHANNELS) for level in range(len(self.strides) + 1)]
            self.channels = channels

            def weight(name, shape):
                return (self.add_weight(name=f"{name}_kernel", shape=shape, initializer="glorot_uniform"),
                        self.add_weight(name=f"{name}_bias", shape=(shape[-2] if name.startswith("up") else shape[-1],),
                                        initializer="zeros"))

            self.in_conv = weight("in", (1, 1, self.input_channels, channels[0]))
            self.down = [weight(f"down{i + 1}", (KERNEL, KERNEL, channels[i], channels[i + 1]))
                         for i in range(len(self.strides))]
            deepest = channels[-1]
            self.center = weight("center", (1, 1, deepest, deepest))
            self.coarse = weight("coarse", (1, 1, deepest, 1))
            # up<i> undoes down<i>: its input is the level below's output (doubled by the skip
            # concatenation except at the bottleneck); Keras' transposed kernel is (k, k, out, in).
            self.up = []
            for i in range(len(self.strides)):
                incoming = channels[i + 1] * (1 if i == len(self.strides) - 1 else 2)
                self.up.append(weight(f"up{i + 1}", (KERNEL, KERNEL, channels[i], incoming)))
            self.out_conv = weight("out", (1, 1, 2 * channels[0], 1))

        @property
        def scale(self) -> int:
            """How many pixels a side one coarse verdict covers (the product of the strides)."""
            return math.prod(self.strides)

        def call(self, inputs, frozen=False):
            def read(pair):
                kernel, bias = (ops.cast(w, self.compute_dtype) for w in pair)
                return (ops.stop_gradient(kernel), ops.stop_gradient(bias)) if frozen else (kernel, bias)

            def act(x):
                return ops.leaky_relu(x, negative_slope=self.slope)

            x = ops.cast(inputs if frozen else ops.stop_gradient(inputs), self.compute_dtype)
            kernel, bias = read(self.in_conv)
            x = act(ops.conv(x, kernel, strides=1, padding="valid") + bias)
            skips = []
            for pair, stride in zip(self.down, self.strides):
                skips.append(x)
                kernel, bias = read(pair)
                x = act(ops.conv(x, kernel, strides=stride, padding="same") + bias)
            kernel, bias = read(self.coarse)
            coarse = ops.conv(x, kernel, strides=1, padding="valid") + bias
            kernel, bias = read(self.center)
            x = act(ops.conv(x, kernel, strides=1, padding="valid") + bias)
            for pair, stride, skip in reversed(list(zip(self.up, self.strides, skips))):
                kernel, bias = read(pair)
                x = act(ops.conv_transpose(x, kernel, strides=stride, padding="same") + bias)
                x = ops.concatenate([skip, x], axis=-1)
            kernel, bias = read(self.out_conv)
            pixels = ops.conv(x, kernel, strides=1, padding="valid") + bias
            coarse = ops.repeat(ops.repeat(coarse, self.scale, axis=1), self.scale, axis=2)
            return ops.cast(ops.concatenate([pixels, coarse], axis=-1), "float32")

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[1], input_shape[2], 2)

        def get_config(self):
            return {**super().get_config(), "input_channels": self.input_channels, "strides": self.strides,
                    "base": self.base, "slope": self.slope}

    return UNetDiscriminator


def build_unet_discriminator(name: str, input_size: int, input_channels: int, patch_size: int, base: int):
    """A ``UNetDiscriminator`` named ``name`` (its weights' key in a checkpoint), built for
    (None, input_size, input_size, input_channels) inputs, with ``choose_strides(patch_size)``.
    ValueError if ``input_size`` is not divisible by the product of those strides."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _layer_class()
    strides = choose_strides(patch_size)
    if input_size % math.prod(strides):
        raise ValueError(f"a {input_size}-px face does not divide into the U-Net discriminator's "
                         f"{math.prod(strides)}-px cells (patch size {patch_size})")
    layer = _CLASS(input_channels, strides, base, name=name)
    layer.build((None, input_size, input_size, input_channels))
    return layer
