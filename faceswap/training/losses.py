"""Reconstruction loss: DSSIM + MSE mixed, masked to the face (as DeepFaceLab).

    loss = dssim_weight * DSSIM(target*mask, prediction*mask) + mse_weight * MSE(target*mask, prediction*mask)
           + eyes_mouth_weight * mean(|target - prediction| * eyes_mouth)
           + gradient_difference_weight * GDL(target*mask, prediction*mask)

The last term is DeepFaceLab's "eyes and mouth priority" (SAEHD ``eyes_mouth_prio``: weight 300
on the mean absolute error inside the eyes-and-mouth region), so that gaze, blinks and the open
mouth are drawn before the cheeks are; 0 turns it off.

GDL is the gradient difference loss of Mathieu, Couprie & LeCun, "Deep multi-scale video prediction
beyond mean square error", ICLR 2016 (eq. 5, alpha = 1): the mean absolute difference between the
target's and the prediction's absolute neighbour differences, down and across. MSE and DSSIM are
content with a face that is right on average and soft at its edges; GDL costs every edge that the
prediction draws weaker (or stronger) than the target, so it pulls towards sharp edges where the
target has them (``gradient_difference_weight``, 0 = off, the default).

DSSIM = (1 - SSIM) / 2 with a Gaussian window of ``int(size / 11.6)`` px (DeepFaceLab's choice:
5 px for 64-px faces), sigma 1.5, computed by training/ssim.py as ``tf.image.ssim`` does but in
``keras.ops``, so that the loss runs on every Keras backend. Images are model tensors: BGR
float32 (N, S, S, 3) in [0, 1]; masks are float32 (N, S, S) or (N, S, S, 1) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

from faceswap.settings import setting


@dataclass
class LossSettings:
    """Weights of the loss terms (``true_face_power`` is the latent code's adversarial term,
    training/true_face.py; ``gan_power`` decoder B's faces', training/patch_gan.py; the others are
    the reconstruction loss above)."""

    dssim_weight: float = setting(10.0, "weight of the structural (DSSIM) term of the loss")
    mse_weight: float = setting(10.0, "weight of the pixel (MSE) term of the loss")
    eyes_mouth_weight: float = setting(300.0, "weight of the mean absolute error inside the eyes and mouth "
                                              "(DeepFaceLab's eyes_mouth_prio; 0 = off)")
    true_face_power: float = setting(0.0, "weight of the encoder's adversarial term on the latent code "
                                          "(DeepFaceLab's true_face_power, training/true_face.py; typical 0.01, "
                                          "0 = off). Give it again on every resume: a run without it drops "
                                          "a trained code discriminator from the checkpoint")
    gan_power: float = setting(0.0, "weight of the adversarial term on decoder B's faces, for detail "
                                    "(DeepFaceLab's gan_power, training/patch_gan.py; typical 0.1 on a trained "
                                    "model, 0 = off). Give it again on every resume: a run without it drops "
                                    "a trained patch discriminator from the checkpoint")
    gradient_difference_weight: float = setting(0.0, "weight of the gradient difference loss (Mathieu et al., "
                                                     "ICLR 2016): edges drawn weaker or stronger than the "
                                                     "target's cost, for sharpness (0 = off)")
    gan_discriminator: str = setting("patch", "the discriminator of GAN power: patch (PatchGAN, a verdict per "
                                              "22-px patch) or unet (DeepFaceLab's U-Net patch discriminator, "
                                              "a verdict per pixel and per 12-px region; ~6x the cost); "
                                              "training/patch_gan.py", choices=("patch", "unet"))


def ssim_filter_size(image_size: int) -> int:
    """DeepFaceLab's SSIM window for a face of ``image_size`` px (odd, at least 3)."""
    size = max(3, int(image_size / 11.6))
    return size if size % 2 else size + 1


def gradient_difference(target, prediction):
    """GDL with alpha = 1 (module docstring): float32 scalar tensor, the mean over both directions of
    ``| |target's neighbour difference| - |prediction's| |``. ``target``, ``prediction``: float
    (N, H, W, C) of one colour order and range (here BGR in [0, 1]), H and W at least 2."""
    from keras import ops

    def absolute_differences(images):
        return (ops.abs(images[:, 1:, :, :] - images[:, :-1, :, :]),
                ops.abs(images[:, :, 1:, :] - images[:, :, :-1, :]))

    target_down, target_across = absolute_differences(target)
    prediction_down, prediction_across = absolute_differences(prediction)
    return (ops.mean(ops.abs(target_down - prediction_down))
            + ops.mean(ops.abs(target_across - prediction_across))) / 2.0


def masked_face_loss(target, prediction, mask, settings: LossSettings | None = None, eyes_mouth=None):
    """Scalar float32 loss of one batch, a tensor of the active Keras backend (``keras.ops`` only, so
    it trains on TensorFlow, JAX and PyTorch); see the module docstring for shapes and ranges.
    ``eyes_mouth``: float32 (N, S, S) region mask, or None (no priority term)."""
    from keras import ops

    from faceswap.training.ssim import dssim

    settings = settings or LossSettings()
    target = ops.cast(target, "float32")
    prediction = ops.cast(prediction, "float32")
    mask = ops.cast(mask, "float32")
    if len(mask.shape) == 3:
        mask = ops.expand_dims(mask, -1)
    target_masked = target * mask
    prediction_masked = prediction * mask
    size = int(target.shape[1])
    structural = ops.mean(dssim(target_masked, prediction_masked, max_val=1.0,
                                filter_size=ssim_filter_size(size), filter_sigma=1.5))
    mse = ops.mean(ops.square(target_masked - prediction_masked))
    loss = settings.dssim_weight * structural + settings.mse_weight * mse
    if settings.gradient_difference_weight:
        loss = loss + settings.gradient_difference_weight * gradient_difference(target_masked, prediction_masked)
    if eyes_mouth is not None and settings.eyes_mouth_weight:
        region = ops.cast(eyes_mouth, "float32")
        if len(region.shape) == 3:
            region = ops.expand_dims(region, -1)
        loss = loss + settings.eyes_mouth_weight * ops.mean(ops.abs(target - prediction) * region)
    return loss
