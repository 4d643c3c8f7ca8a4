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

The layer and the loss are training/discriminator.py's, shared with GAN power. Both players train
in the one ``train_on_batch`` step (training/train_step.py), with ``keras.ops`` only so that every
Keras backend runs it:

* the discriminator reads the codes through ``stop_gradient`` and learns side A -> 0, side B -> 1
  (binary cross-entropy on its logits, weight 1);
* the encoder reads the discriminator with its weights behind ``stop_gradient`` and learns side A
  -> 1 (weight ``LossSettings.true_face_power``, DeepFaceLab's typical value 0.01).

Codes are the encoder's output, float (N, 2L, 2L, C) (L = ``ModelConfig.latent_size``); logits are
float32 (N, H', W', 1), one per patch of the code (H' = 2L / 2**downscales).
"""

from __future__ import annotations

from faceswap.training.discriminator import build_discriminator

DISCRIMINATOR_NAME = "code_discriminator"
FILTERS = 256  # DeepFaceLab's CodeDiscriminator(ch=256)
SLOPE = 0.1


def build_code_discriminator(config):
    """The code discriminator for ``config`` (a ModelConfig), built (weights created) and named
    ``code_discriminator``: the key its weights have in a checkpoint. DeepFaceLab's
    CodeDiscriminator: ``1 + code_size // 8`` strided convolutions (kernel 4, then 3; 256, 512, ...
    filters up to 8x) with LeakyReLU 0.1, then a 1x1 convolution to one logit per patch
    (training/discriminator.py)."""
    size = 2 * config.latent_size
    count = 1 + size // 8
    return build_discriminator(DISCRIMINATOR_NAME, size, config.latent_upscale_filters,
                               filters=[FILTERS * min(2 ** index, 8) for index in range(count)],
                               kernels=[4] + [3] * (count - 1), slope=SLOPE)
