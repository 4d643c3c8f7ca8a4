"""Structural similarity (SSIM) and DSSIM in ``keras.ops``: the same maths on TensorFlow, JAX and PyTorch.

SSIM as defined by Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error
visibility to structural similarity", IEEE TIP 13(4), 2004, computed exactly as TensorFlow's
``tf.image.ssim`` does (its ``_ssim_per_channel``): a normalised Gaussian window of
``filter_size`` x ``filter_size`` px (MATLAB ``fspecial('gaussian')``), local statistics by a
'valid' depthwise convolution, K1 = 0.01, K2 = 0.03, compensation 1.0, the SSIM map averaged over
height and width and then over the channels. The window is applied as two 1-D passes (the
Gaussian is separable), which gives the same values to float32 rounding (tests compare against
``tf.image.ssim``) with ~``filter_size / 2`` times fewer multiplies.

Images: float (N, H, W, C), any colour order, values in [0, ``max_val``]; H and W at least
``filter_size``. Results are float32 tensors of the active Keras backend.
"""

from __future__ import annotations

import numpy as np

K1 = 0.01
K2 = 0.03


def gaussian_window_1d(filter_size: int, sigma: float) -> np.ndarray:
    """The 1-D factor of ``tf.image.ssim``'s window: float32 (filter_size,), sums to 1."""
    coords = np.arange(filter_size, dtype=np.float64) - (filter_size - 1) / 2.0
    weights = np.exp(-0.5 * coords ** 2 / sigma ** 2)
    return (weights / weights.sum()).astype(np.float32)


def _local_means(images, window: np.ndarray):
    """Gaussian-weighted local means of every channel of ``images`` (N, H, W, C) -> (N, H-k+1, W-k+1, C)."""
    from keras import ops

    channels = int(images.shape[-1])
    size = len(window)
    rows = np.tile(window.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    cols = np.tile(window.reshape(1, size, 1, 1), (1, 1, channels, 1))
    images = ops.depthwise_conv(images, ops.convert_to_tensor(rows), strides=1, padding="valid")
    return ops.depthwise_conv(images, ops.convert_to_tensor(cols), strides=1, padding="valid")


def ssim(image1, image2, max_val: float = 1.0, filter_size: int = 11, filter_sigma: float = 1.5):
    """Mean SSIM per image: float32 (N,) for two (N, H, W, C) batches (see the module docstring)."""
    from keras import ops

    image1 = ops.cast(image1, "float32")
    image2 = ops.cast(image2, "float32")
    height, width, channels = (int(d) for d in image1.shape[-3:])
    if min(height, width) < filter_size:
        raise ValueError(f"SSIM needs images of at least {filter_size} px, not {height}x{width}")
    c1 = (K1 * max_val) ** 2
    c2 = (K2 * max_val) ** 2
    # All four local statistics in one pair of convolutions: x, y, x*y, x^2 + y^2 side by side.
    stacked = ops.concatenate([image1, image2, image1 * image2, ops.square(image1) + ops.square(image2)], axis=-1)
    means = _local_means(stacked, gaussian_window_1d(filter_size, filter_sigma))
    mean1 = means[..., :channels]
    mean2 = means[..., channels:2 * channels]
    mean12 = means[..., 2 * channels:3 * channels]
    mean_squares = means[..., 3 * channels:]
    num0 = mean1 * mean2 * 2.0
    den0 = ops.square(mean1) + ops.square(mean2)
    luminance = (num0 + c1) / (den0 + c1)
    contrast_structure = (mean12 * 2.0 - num0 + c2) / (mean_squares - den0 + c2)
    per_channel = ops.mean(luminance * contrast_structure, axis=(-3, -2))
    return ops.mean(per_channel, axis=-1)


def dssim(image1, image2, max_val: float = 1.0, filter_size: int = 11, filter_sigma: float = 1.5):
    """Structural dissimilarity (1 - SSIM) / 2 per image: float32 (N,) in [0, 1]."""
    return (1.0 - ssim(image1, image2, max_val, filter_size, filter_sigma)) / 2.0
