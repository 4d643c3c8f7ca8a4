"""The deepfakes autoencoder: one encoder shared by both identities, decoder A and decoder B.

    autoencoder A = encoder -> decoder A     (reconstructs faces of identity A)
    autoencoder B = encoder -> decoder B     (reconstructs faces of identity B)
    swap 'a2b'    = encoder -> decoder B     (a face of A comes out as B)
    swap 'b2a'    = encoder -> decoder A

Configs (`CONFIGS`):

- ``original``: the classic deepfakes model. 64x64x3 in; encoder conv 5x5 stride 2 with
  128/256/512/1024 filters + LeakyReLU 0.1, Dense 1024, Dense 4*4*1024, reshape, upscale to
  8x8x512; each decoder upscales 256/128/64 (conv 3x3 to 4f + LeakyReLU + pixel shuffle), then
  conv 5x5 to 3 channels with a sigmoid. About 82 M parameters.
- ``lite``: the same shape with fewer filters and a smaller bottleneck, sized to train to a
  recognisable result in about 1.5 hours on 2 CPU cores.
- ``tiny``: a very small model of the same shape for fast tests.
- ``res96``: the first 96-px candidate of issue 9: 96x96 faces, a 512-wide bottleneck and one residual
  block after every decoder upscale (as DeepFaceLab's Quick96 and SAEHD "DF-UD" decoders do:
  conv 3x3 + LeakyReLU 0.2 + conv 3x3, added to the block's input, LeakyReLU 0.2), so the
  decoders can draw detail at 96 px. Sized for these 2 CPU cores; see docs/default-model.md.
- ``lite96``: ``lite``'s filters and 256-wide bottleneck at 96x96 faces (no residual blocks), the
  default-model recipe's config since session 4 of issue 9 (docs/default-model.md).
- ``lite96res``: ``lite96`` plus one residual block after every decoder upscale (as ``res96``), so
  it can be grown from a trained ``lite96`` checkpoint (training/growing.py, ``--grow-from``).
- ``lite96wide``: ``lite96`` with a 512-wide bottleneck (``encoder_dense``), growable from ``lite96``.
- ``tiny-res``: ``tiny`` plus one residual block after every decoder upscale (tests of growing).

Model tensors are BGR float32 in [0, 1], shape (N, S, S, 3), S = ``config.input_size``; the face
crop the model sees is ``config.layout`` (FaceLayout(64, 0.0) for the classic model: the central
160 px of a 256-px extracted face).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from faceswap.model.code_shift import CodeMap

DIRECTIONS = ("a2b", "b2a")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of one autoencoder family. All three networks are built from these numbers."""

    name: str
    input_size: int = 64
    padding_ratio: float = 0.0
    encoder_filters: tuple[int, ...] = (128, 256, 512, 1024)
    encoder_dense: int = 1024
    latent_channels: int = 1024
    latent_upscale_filters: int = 512
    decoder_filters: tuple[int, ...] = (256, 128, 64)
    leaky_relu_slope: float = 0.1
    decoder_residual_blocks: int = 0
    residual_slope: float = 0.2

    def __post_init__(self) -> None:
        latent = self.latent_size
        if latent * 2 ** len(self.encoder_filters) != self.input_size:
            raise ValueError(f"config {self.name!r}: input size {self.input_size} is not divisible by "
                             f"2**{len(self.encoder_filters)}")
        if latent * 2 * 2 ** len(self.decoder_filters) != self.input_size:
            raise ValueError(f"config {self.name!r}: {len(self.decoder_filters)} decoder upscales do not "
                             f"return to {self.input_size} px")

    @property
    def latent_size(self) -> int:
        """Side of the square latent grid after the dense bottleneck (4 for 64-px models)."""
        return self.input_size // 2 ** len(self.encoder_filters)

    @property
    def layout(self):
        """The face crop the model sees: FaceLayout(input_size, padding_ratio)."""
        from faceswap.faces.alignment import FaceLayout
        return FaceLayout(self.input_size, self.padding_ratio)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Inverse of ``to_dict``; raises ValueError/TypeError on unknown or malformed fields."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


CONFIGS: dict[str, ModelConfig] = {
    "original": ModelConfig("original"),
    "lite": ModelConfig("lite", encoder_filters=(32, 64, 128, 256), encoder_dense=256, latent_channels=256,
                        latent_upscale_filters=128, decoder_filters=(128, 64, 32)),
    "res96": ModelConfig("res96", input_size=96, encoder_filters=(32, 64, 128, 256), encoder_dense=512,
                         latent_channels=256, latent_upscale_filters=128, decoder_filters=(96, 48, 24),
                         decoder_residual_blocks=1),
    "lite96": ModelConfig("lite96", input_size=96, encoder_filters=(32, 64, 128, 256), encoder_dense=256,
                          latent_channels=256, latent_upscale_filters=128, decoder_filters=(128, 64, 32)),
    "lite96res": ModelConfig("lite96res", input_size=96, encoder_filters=(32, 64, 128, 256), encoder_dense=256,
                             latent_channels=256, latent_upscale_filters=128, decoder_filters=(128, 64, 32),
                             decoder_residual_blocks=1),
    "lite96wide": ModelConfig("lite96wide", input_size=96, encoder_filters=(32, 64, 128, 256), encoder_dense=512,
                              latent_channels=256, latent_upscale_filters=128, decoder_filters=(128, 64, 32)),
    "tiny": ModelConfig("tiny", encoder_filters=(12, 24, 48, 96), encoder_dense=64, latent_channels=64,
                        latent_upscale_filters=48, decoder_filters=(32, 24, 16)),
    "tiny-res": ModelConfig("tiny-res", encoder_filters=(12, 24, 48, 96), encoder_dense=64, latent_channels=64,
                            latent_upscale_filters=48, decoder_filters=(32, 24, 16), decoder_residual_blocks=1),
}


def get_config(name: str) -> ModelConfig:
    """The named config; ValueError listing the choices if the name is unknown."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown model config {name!r}; choose one of {', '.join(CONFIGS)}") from None


def _keras():
    import keras
    return keras


def shuffle_pixels(inputs, block: int = 2):
    """(N, H, W, block*block*C) -> (N, block*H, block*W, C), the sub-pixel convolution shuffle (Shi et al.,
    "Real-time single image and video super-resolution using an efficient sub-pixel convolutional
    neural network", CVPR 2016) in ``keras.ops``, element for element TensorFlow's ``depth_to_space``:
    ``out[n, block*h + i, block*w + j, c] = in[n, h, w, (block*i + j)*C + c]``. H, W, C must be static."""
    from keras import ops

    _, height, width, channels = inputs.shape
    out_channels = channels // (block * block)
    x = ops.reshape(inputs, (-1, height, width, block, block * out_channels))  # split i from (j, c)
    x = ops.transpose(x, (0, 1, 3, 2, 4))  # (N, H, i, W, (j, c))
    return ops.reshape(x, (-1, height * block, width * block, out_channels))


def _pixel_shuffle_layer_class():
    import keras

    @keras.saving.register_keras_serializable(package="faceswap")
    class PixelShuffle(keras.layers.Layer):
        """(N, H, W, 4C) -> (N, 2H, 2W, C), the sub-pixel convolution shuffle (``shuffle_pixels``). On
        TensorFlow it is the one fused ``depth_to_space`` op (the DEPTH_TO_SPACE that TFLite int8
        serves); on JAX and PyTorch the same values through ``keras.ops``. No weights."""

        def call(self, inputs):
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                return tf.nn.depth_to_space(inputs, 2)
            return shuffle_pixels(inputs, 2)

        def compute_output_shape(self, input_shape):
            n, h, w, c = input_shape
            return (n, None if h is None else 2 * h, None if w is None else 2 * w, c // 4)

    return PixelShuffle


_PIXEL_SHUFFLE = None


def pixel_shuffle(name: str):
    """A PixelShuffle layer (created lazily so importing this module does not import TensorFlow)."""
    global _PIXEL_SHUFFLE
    if _PIXEL_SHUFFLE is None:
        _PIXEL_SHUFFLE = _pixel_shuffle_layer_class()
    return _PIXEL_SHUFFLE(name=name)


def _upscale(x, filters: int, slope: float, name: str):
    keras = _keras()
    x = keras.layers.Conv2D(filters * 4, 3, padding="same", name=f"{name}_conv")(x)
    x = keras.layers.LeakyReLU(negative_slope=slope, name=f"{name}_leaky_relu")(x)
    return pixel_shuffle(f"{name}_pixel_shuffle")(x)


def _residual_block(x, filters: int, slope: float, name: str):
    """DeepFaceLab's ResidualBlock: x + conv(lrelu(conv(x))), then LeakyReLU (shape unchanged)."""
    keras = _keras()
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    y = keras.layers.LeakyReLU(negative_slope=slope, name=f"{name}_leaky_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.LeakyReLU(negative_slope=slope, name=f"{name}_leaky_relu2")(y)


def build_encoder(config: ModelConfig):
    """(N, S, S, 3) BGR float32 [0,1] -> latent (N, 2L, 2L, latent_upscale_filters) float32."""
    keras = _keras()
    inputs = keras.Input((config.input_size, config.input_size, 3), name="face")
    x = inputs
    for index, filters in enumerate(config.encoder_filters, start=1):
        x = keras.layers.Conv2D(filters, 5, strides=2, padding="same", name=f"encoder_conv{index}")(x)
        x = keras.layers.LeakyReLU(negative_slope=config.leaky_relu_slope, name=f"encoder_leaky_relu{index}")(x)
    x = keras.layers.Flatten(name="encoder_flatten")(x)
    x = keras.layers.Dense(config.encoder_dense, name="encoder_dense1")(x)
    latent = config.latent_size
    x = keras.layers.Dense(latent * latent * config.latent_channels, name="encoder_dense2")(x)
    x = keras.layers.Reshape((latent, latent, config.latent_channels), name="encoder_reshape")(x)
    x = _upscale(x, config.latent_upscale_filters, config.leaky_relu_slope, "encoder_upscale")
    return keras.Model(inputs, x, name="encoder")


def build_decoder(config: ModelConfig, side: str):
    """Latent (N, 2L, 2L, latent_upscale_filters) -> face (N, S, S, 3) BGR float32 in [0,1] (sigmoid)."""
    keras = _keras()
    side = side.lower()
    latent = config.latent_size * 2
    inputs = keras.Input((latent, latent, config.latent_upscale_filters), name=f"latent_{side}")
    x = inputs
    for index, filters in enumerate(config.decoder_filters, start=1):
        x = _upscale(x, filters, config.leaky_relu_slope, f"decoder_{side}_upscale{index}")
        for block in range(1, config.decoder_residual_blocks + 1):
            x = _residual_block(x, filters, config.residual_slope, f"decoder_{side}_residual{index}_{block}")
    x = keras.layers.Conv2D(3, 5, padding="same", activation="sigmoid", name=f"decoder_{side}_output")(x)
    return keras.Model(inputs, x, name=f"decoder_{side}")


def AddConstant(constant, name: str):   # noqa: N802  (a layer factory, named like the layer)
    """A Keras layer adding the fixed float32 ``constant`` (broadcast over the batch) to its input;
    the constant is a non-trainable weight, so it is saved, exported and converted with the model."""
    keras = _keras()
    value = np.asarray(constant, dtype=np.float32)

    class _AddConstant(keras.layers.Layer):
        def build(self, input_shape):
            self.constant = self.add_weight(name="constant", shape=value.shape, initializer="zeros",
                                            trainable=False, dtype="float32")
            self.constant.assign(value)

        def call(self, inputs):
            return inputs + keras.ops.cast(self.constant, inputs.dtype)

    return _AddConstant(name=name)


def MapCode(code_map, name: str):   # noqa: N802  (a layer factory, named like the layer)
    """A Keras layer applying a fixed faceswap.model.code_shift.CodeMap to its input (N, *code shape):
    ``scale * c + strength * (c . basis^T) basis + offset`` on the flattened code. Offset and basis
    are non-trainable weights, so they are saved, exported and converted with the model."""
    keras = _keras()
    offset = np.asarray(code_map.offset, dtype=np.float32)
    basis = np.asarray(code_map.basis, dtype=np.float32)
    scale, strength = float(code_map.scale), float(code_map.strength)

    class _MapCode(keras.layers.Layer):
        def build(self, input_shape):
            if tuple(input_shape[1:]) != offset.shape:
                raise ValueError(f"the code map takes codes of shape {offset.shape}, not {tuple(input_shape[1:])}")
            self.offset = self.add_weight(name="offset", shape=(offset.size,), initializer="zeros",
                                          trainable=False, dtype="float32")
            self.offset.assign(offset.reshape(-1))
            self.basis = self.add_weight(name="basis", shape=basis.shape, initializer="zeros",
                                         trainable=False, dtype="float32")
            self.basis.assign(basis)

        def call(self, inputs):
            ops = keras.ops
            flat = ops.reshape(inputs, (-1, offset.size))
            basis_ = ops.cast(self.basis, inputs.dtype)
            along = ops.matmul(ops.matmul(flat, ops.transpose(basis_)), basis_)
            moved = scale * flat + strength * along + ops.cast(self.offset, inputs.dtype)
            return ops.reshape(moved, (-1,) + tuple(offset.shape))

    return _MapCode(name=name)


@dataclass
class Autoencoders:
    """The three networks and the two autoencoders built from them (encoder shared, same object)."""

    config: ModelConfig
    encoder: Any
    decoder_a: Any
    decoder_b: Any
    autoencoder_a: Any
    autoencoder_b: Any

    def networks(self) -> dict[str, Any]:
        """{'encoder': ..., 'decoder_a': ..., 'decoder_b': ...}: the parts that hold weights."""
        return {"encoder": self.encoder, "decoder_a": self.decoder_a, "decoder_b": self.decoder_b}

    def decoder_for(self, direction: str):
        """The decoder that produces the *target* identity of ``direction`` ('a2b' -> decoder B)."""
        if direction == "a2b":
            return self.decoder_b
        if direction == "b2a":
            return self.decoder_a
        raise ValueError(f"direction must be 'a2b' or 'b2a', not {direction!r}")

    def swap_model(self, direction: str, code_shift=None):
        """encoder -> other side's decoder as one Keras model: (N,S,S,3) BGR [0,1] -> same.

        ``code_shift``: float32 array of the code's shape added to every code before the decoder, or a
        faceswap.model.code_shift.CodeMap applied to it (faceswap/model/code_shift.py; the a2b path of
        a model exported with ``--code-shift`` / ``--code-subspace``)."""
        keras = _keras()
        size = self.config.input_size
        inputs = keras.Input((size, size, 3), name="face")
        code = self.encoder(inputs)
        if code_shift is not None:
            layer = MapCode if isinstance(code_shift, CodeMap) else AddConstant
            code = layer(code_shift, name="code_shift")(code)
        outputs = self.decoder_for(direction)(code)
        return keras.Model(inputs, outputs, name=f"swap_{direction}")


def build_autoencoders(config: ModelConfig | str) -> Autoencoders:
    """Build encoder, decoder A, decoder B and the two autoencoders sharing the one encoder."""
    keras = _keras()
    if isinstance(config, str):
        config = get_config(config)
    encoder = build_encoder(config)
    decoder_a = build_decoder(config, "a")
    decoder_b = build_decoder(config, "b")
    size = config.input_size
    input_a = keras.Input((size, size, 3), name="face_a")
    input_b = keras.Input((size, size, 3), name="face_b")
    autoencoder_a = keras.Model(input_a, decoder_a(encoder(input_a)), name="autoencoder_a")
    autoencoder_b = keras.Model(input_b, decoder_b(encoder(input_b)), name="autoencoder_b")
    return Autoencoders(config, encoder, decoder_a, decoder_b, autoencoder_a, autoencoder_b)


def layer_macs(model) -> int:
    """Multiply-accumulates of one forward pass for ONE face through ``model`` (conv and dense layers)."""
    keras = _keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += layer_macs(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            kernel_h, kernel_w, in_channels, _ = layer.kernel.shape
            total += height * width * kernel_h * kernel_w * in_channels * out_channels
        elif isinstance(layer, keras.layers.Dense):
            in_units, out_units = layer.kernel.shape
            total += in_units * out_units
    return int(total)


def model_info(config: ModelConfig | str) -> dict[str, Any]:
    """Parameter counts and MACs per face of a config (builds the networks, no weights loaded)."""
    networks = build_autoencoders(config)
    encoder_params = networks.encoder.count_params()
    decoder_params = networks.decoder_a.count_params()
    encoder_macs = layer_macs(networks.encoder)
    decoder_macs = layer_macs(networks.decoder_a)
    return {
        "config": networks.config.name,
        "input_size": networks.config.input_size,
        "params_total": encoder_params + 2 * decoder_params,
        "params_encoder": encoder_params,
        "params_per_decoder": decoder_params,
        "params_swap_path": encoder_params + decoder_params,
        "macs_per_face_swap": encoder_macs + decoder_macs,
        "macs_per_face_encoder": encoder_macs,
        "macs_per_face_decoder": decoder_macs,
    }
