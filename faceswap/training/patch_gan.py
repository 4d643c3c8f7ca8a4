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

The layer and the loss are training/discriminator.py's, shared with true face power. Both players
train in the one ``train_on_batch`` step (training/train_step.py), ``keras.ops`` only:

* the discriminator reads the faces through ``stop_gradient`` and learns reconstruction -> 0,
  real face -> 1 (binary cross-entropy on its logits, weight 1);
* encoder and decoder B read the discriminator with its weights behind ``stop_gradient`` and learn
  reconstruction -> 1 (weight ``LossSettings.gan_power``).

``LossSettings.gan_discriminator = "unet"`` takes DeepFaceLab's own discriminator instead
(training/unet_discriminator.py): a verdict per pixel and per 12-px region at 96 px, at about six
times this one's cost.

Faces are BGR float (N, S, S, 3) in [0, 1], multiplied by the face mask; logits are float32
(N, S/8, S/8, 1) (``unet``: (N, S, S, 2)).
"""

from __future__ import annotations

from faceswap.training.discriminator import build_discriminator
from faceswap.training.unet_discriminator import build_unet_discriminator

DISCRIMINATOR_NAME = "patch_discriminator"
UNET_DISCRIMINATOR_NAME = "unet_discriminator"
# LossSettings.gan_discriminator -> the checkpoint key of that discriminator's weights
DISCRIMINATOR_NAMES = {"patch": DISCRIMINATOR_NAME, "unet": UNET_DISCRIMINATOR_NAME}
FILTERS = (32, 64, 128)
KERNEL = 4
SLOPE = 0.2
UNET_BASE_CHANNELS = 16     # DeepFaceLab's gan_dims
UNET_PATCH_FRACTION = 8     # DeepFaceLab's gan_patch_size: resolution // 8


def build_patch_discriminator(config, kind: str = "patch"):
    """The GAN's discriminator for ``config`` (a ModelConfig), built (weights created) and named
    ``DISCRIMINATOR_NAMES[kind]``, the key its weights have in a checkpoint: ``patch`` is
    training/discriminator.py's layer with this module's filters, kernel and slope (logits
    (N, S/8, S/8, 1)); ``unet`` is training/unet_discriminator.py's (logits (N, S, S, 2), patch size
    S // 8, 16 base channels). ValueError for another ``kind``."""
    if kind not in DISCRIMINATOR_NAMES:
        raise ValueError(f"the GAN discriminator is one of {', '.join(DISCRIMINATOR_NAMES)}, not {kind!r}")
    if kind == "unet":
        return build_unet_discriminator(UNET_DISCRIMINATOR_NAME, config.input_size, 3,
                                        patch_size=max(1, config.input_size // UNET_PATCH_FRACTION),
                                        base=UNET_BASE_CHANNELS)
    return build_discriminator(DISCRIMINATOR_NAME, config.input_size, 3, filters=FILTERS,
                               kernels=[KERNEL] * len(FILTERS), slope=SLOPE)
