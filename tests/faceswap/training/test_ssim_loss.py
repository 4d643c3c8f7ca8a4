"""The keras.ops SSIM / DSSIM (training/ssim.py) and the masked face loss built on it agree with
TensorFlow's tf.image.ssim-based reference on random and real faces, at 64 and 96 px, and the
PixelShuffle layer's keras.ops path equals tf.nn.depth_to_space."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from faceswap.training.losses import LossSettings, masked_face_loss, ssim_filter_size
from faceswap.training.ssim import dssim, gaussian_window_1d, ssim


def _pairs(size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    clean = rng.random((4, size, size, 3), dtype=np.float32)
    noisy = np.clip(clean + rng.normal(0.0, 0.1, clean.shape), 0.0, 1.0).astype(np.float32)
    return clean, noisy


# float32 sums in another order: 2e-6 on AVX-512 machines, 2.3e-6 seen on an AVX2-only one
SAME_SSIM = 4e-6


@pytest.mark.parametrize("size", [64, 96])
def test_ssim_matches_tensorflow_on_random_images(size):
    clean, noisy = _pairs(size)
    window = ssim_filter_size(size)
    ours = np.asarray(ssim(clean, noisy, 1.0, window, 1.5))
    reference = tf.image.ssim(clean, noisy, max_val=1.0, filter_size=window, filter_sigma=1.5).numpy()
    np.testing.assert_allclose(ours, reference, rtol=0, atol=SAME_SSIM)


def test_ssim_matches_tensorflow_on_real_faces_and_blurred_copies(face_set_b):
    faces = np.stack([face_set_b.model_crop(i) for i in range(4)])
    blurred = np.stack([tf.image.resize(tf.image.resize(f, (32, 32)), (64, 64)).numpy() for f in faces])
    ours = np.asarray(ssim(faces, blurred, 1.0, 5, 1.5))
    reference = tf.image.ssim(faces, blurred, max_val=1.0, filter_size=5, filter_sigma=1.5).numpy()
    np.testing.assert_allclose(ours, reference, rtol=0, atol=SAME_SSIM)
    assert np.all(ours < 0.98)  # the blur is seen
    np.testing.assert_allclose(np.asarray(dssim(faces, faces, 1.0, 5, 1.5)), 0.0, atol=1e-6)


def test_window_is_the_normalised_gaussian():
    window = gaussian_window_1d(5, 1.5)
    assert window.sum() == pytest.approx(1.0) and window.argmax() == 2 and window[0] == pytest.approx(window[4])


def test_images_smaller_than_the_window_are_refused():
    with pytest.raises(ValueError, match="at least 9 px"):
        ssim(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 8, 8, 3), np.float32), 1.0, 9, 1.5)


def _reference_loss(target, prediction, mask, settings, eyes_mouth):
    """The loss as it was written with TensorFlow ops (tf.image.ssim) before the keras.ops version."""
    mask = mask[..., None]
    target_masked, prediction_masked = target * mask, prediction * mask
    size = target.shape[1]
    value = tf.image.ssim(target_masked, prediction_masked, max_val=1.0, filter_size=ssim_filter_size(size),
                          filter_sigma=1.5)
    loss = settings.dssim_weight * tf.reduce_mean((1.0 - value) / 2.0) \
        + settings.mse_weight * tf.reduce_mean(tf.square(target_masked - prediction_masked))
    return loss + settings.eyes_mouth_weight * tf.reduce_mean(tf.abs(target - prediction) * eyes_mouth[..., None])


@pytest.mark.parametrize("size", [64, 96])
def test_masked_face_loss_matches_the_tensorflow_reference(size):
    target, prediction = _pairs(size, seed=1)
    rng = np.random.default_rng(2)
    mask = (rng.random((4, size, size)) > 0.3).astype(np.float32)
    eyes_mouth = (rng.random((4, size, size)) > 0.9).astype(np.float32)
    settings = LossSettings()
    ours = float(masked_face_loss(target, prediction, mask, settings, eyes_mouth))
    reference = float(_reference_loss(target, prediction, mask, settings, eyes_mouth))
    assert ours == pytest.approx(reference, rel=1e-5)


def test_pixel_shuffle_keras_ops_path_equals_depth_to_space():
    from faceswap.model.architecture import shuffle_pixels

    values = np.random.default_rng(3).random((2, 4, 5, 12), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(shuffle_pixels(values)), tf.nn.depth_to_space(values, 2).numpy())
