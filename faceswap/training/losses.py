"""Reconstruction loss: DSSIM + MSE mixed, masked to the face (as DeepFaceLab).

    loss = dssim_weight * DSSIM(target*mask, prediction*mask) + mse_weight * MSE(target*mask, prediction*mask)
           + eyes_mouth_weight * mean(|target - prediction| * eyes_mouth)

The last term is DeepFaceLab's "eyes and mouth priority" (SAEHD ``eyes_mouth_prio``: weight 300
on the mean absolute error inside the eyes-and-mouth region), so that gaze, blinks and the open
mouth are drawn before the cheeks are; 0 turns it off.

DSSIM = (1 - SSIM) / 2 with a Gaussian window of ``int(size / 11.6)`` px (DeepFaceLab's choice:
5 px for 64-px faces), sigma 1.5. Images are model tensors: BGR float32 (N, S, S, 3) in [0, 1];
masks are float32 (N, S, S) or (N, S, S, 1) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

from faceswap.settings import setting


@dataclass
class LossSettings:
    """Weights of the two loss terms."""

    dssim_weight: float = setting(10.0, "weight of the structural (DSSIM) term of the loss")
    mse_weight: float = setting(10.0, "weight of the pixel (MSE) term of the loss")
    eyes_mouth_weight: float = setting(300.0, "weight of the mean absolute error inside the eyes and mouth "
                                              "(DeepFaceLab's eyes_mouth_prio; 0 = off)")


def ssim_filter_size(image_size: int) -> int:
    """DeepFaceLab's SSIM window for a face of ``image_size`` px (odd, at least 3)."""
    size = max(3, int(image_size / 11.6))
    return size if size % 2 else size + 1


def masked_face_loss(target, prediction, mask, settings: LossSettings | None = None, eyes_mouth=None):
    """Scalar loss of one batch (a TF float32 tensor); see the module docstring for shapes/ranges.
    ``eyes_mouth``: float32 (N, S, S) region mask, or None (no priority term)."""
    import tensorflow as tf

    settings = settings or LossSettings()
    target = tf.cast(target, tf.float32)
    prediction = tf.cast(prediction, tf.float32)
    mask = tf.cast(mask, tf.float32)
    if mask.shape.rank == 3:
        mask = mask[..., None]
    target_masked = target * mask
    prediction_masked = prediction * mask
    size = int(target.shape[1])
    ssim = tf.image.ssim(target_masked, prediction_masked, max_val=1.0,
                         filter_size=ssim_filter_size(size), filter_sigma=1.5)
    dssim = tf.reduce_mean((1.0 - ssim) / 2.0)
    mse = tf.reduce_mean(tf.square(target_masked - prediction_masked))
    loss = settings.dssim_weight * dssim + settings.mse_weight * mse
    if eyes_mouth is not None and settings.eyes_mouth_weight:
        region = tf.cast(eyes_mouth, tf.float32)
        if region.shape.rank == 3:
            region = region[..., None]
        loss = loss + settings.eyes_mouth_weight * tf.reduce_mean(tf.abs(target - prediction) * region)
    return loss
