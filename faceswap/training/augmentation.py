"""Training augmentation, as in the original deepfakes trainer.

For every training sample:

1. ``random_transform_matrix``: a random rotation, zoom and shift about the face centre and a
   random horizontal flip (original defaults: +-10 degrees, +-5 % zoom, +-5 % shift, flip 40 %).
2. The **target** is the undistorted model crop of the transformed face (one ``warpAffine``).
3. The **input** is the same crop seen through ``random_warp``: a 5x5 grid of control points
   over the crop, each moved by Gaussian noise (5 px of the 160-px classic crop = 3.1 % of the
   crop), interpolated to a dense map and remapped. The network learns to undo the warp, which
   is what lets it turn someone else's face into a clean face of its own identity.
4. Optionally the same random colour change (lightness, contrast, tint in Lab) on both.

Both images are cut in one resampling step each from a "working" copy of the extracted face
(see dataset.py), through the composed matrix working crop -> transformed -> model crop.
Images are BGR uint8 in, BGR float32 [0, 1] out; matrices are OpenCV (2, 3) float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from faceswap.faces.alignment import compose, invert_matrix, transform_points
from faceswap.settings import setting


@dataclass
class AugmentSettings:
    """Random transform, warp and colour augmentation of training faces."""

    rotation_range: float = setting(10.0, "random rotation, +- degrees")
    zoom_range: float = setting(0.05, "random zoom, +- share of the face size")
    shift_range: float = setting(0.05, "random shift, +- share of the extracted crop size")
    flip_chance: float = setting(0.4, "chance of a horizontal flip")
    warp_noise: float = setting(0.03125, "random_warp noise (std dev) as a share of the model crop (5 px of 160)")
    color_augmentation: bool = setting(False, "random lightness/contrast/tint, the same on input and target")
    color_lightness: float = setting(0.25, "colour augmentation: +- lightness shift (share of the range)")
    color_contrast: float = setting(0.2, "colour augmentation: +- contrast change")
    color_tint: float = setting(0.05, "colour augmentation: +- a/b (tint) shift (share of the range)")


def random_transform_matrix(rng: np.random.Generator, size: int, settings: AugmentSettings,
                            centre: tuple[float, float] | None = None) -> np.ndarray:
    """(2, 3) random rotate/zoom/shift (+ flip) of a ``size`` px square crop about ``centre``
    (default: the crop centre; shifts are shares of ``size``).

    The same draws as the original ``random_transform`` (rotation, scale, tx, ty, flip); the flip
    mirrors about the centre so a centred face stays centred.
    """
    rotation = rng.uniform(-settings.rotation_range, settings.rotation_range)
    scale = rng.uniform(1.0 - settings.zoom_range, 1.0 + settings.zoom_range)
    shift_x = rng.uniform(-settings.shift_range, settings.shift_range) * size
    shift_y = rng.uniform(-settings.shift_range, settings.shift_range) * size
    flip = rng.random() < settings.flip_chance
    centre_x, centre_y = (size / 2.0, size / 2.0) if centre is None else (float(centre[0]), float(centre[1]))
    matrix = cv2.getRotationMatrix2D((centre_x, centre_y), rotation, scale)
    matrix[:, 2] += (shift_x, shift_y)
    if flip:
        matrix = compose(matrix, np.array([[-1.0, 0.0, 2.0 * centre_x], [0.0, 1.0, 0.0]]))
    return matrix


def warp_maps(rng: np.random.Generator, crop_to_source: np.ndarray, size: int,
              noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``cv2.remap`` maps (size, size) float32 for a random_warp of a ``size`` px crop.

    ``crop_to_source`` (2, 3) maps crop px to source-image px. Control points: a 5x5 grid over
    the crop, moved by N(0, noise * size) px, interpolated like the original (a 5x5 map resized
    to 1.25 * size and its central ``size`` px kept).
    """
    # Control points span the crop; the -0.5 makes remap pixel u sample crop coordinate u exactly
    # (cv2.resize samples pixel centres), so with zero noise the input equals the target.
    grid = np.linspace(0.0, float(size), 5) - 0.5
    points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    points = points + rng.normal(scale=noise * size, size=points.shape)
    source = transform_points(points, crop_to_source).reshape(5, 5, 2)
    big = int(round(size * 1.25))
    margin = (big - size) // 2
    map_x = cv2.resize(source[..., 0], (big, big))[margin:margin + size, margin:margin + size]
    map_y = cv2.resize(source[..., 1], (big, big))[margin:margin + size, margin:margin + size]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def random_color(rng: np.random.Generator, settings: AugmentSettings) -> tuple[float, float, float, float]:
    """Random (lightness shift, contrast, a shift, b shift) for ``apply_color``."""
    return (rng.uniform(-settings.color_lightness, settings.color_lightness),
            rng.uniform(1.0 - settings.color_contrast, 1.0 + settings.color_contrast),
            rng.uniform(-settings.color_tint, settings.color_tint),
            rng.uniform(-settings.color_tint, settings.color_tint))


def apply_color(image: np.ndarray, change: tuple[float, float, float, float]) -> np.ndarray:
    """Apply a ``random_color`` change to a BGR float32 [0, 1] image (Lab space); returns the same range."""
    lightness, contrast, tint_a, tint_b = change
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)  # float32: L in [0, 100], a/b in about [-127, 127]
    mean = lab[..., 0].mean()
    lab[..., 0] = (lab[..., 0] - mean) * contrast + mean + lightness * 100.0
    lab[..., 1] += tint_a * 255.0
    lab[..., 2] += tint_b * 255.0
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), 0.0, 1.0)


@dataclass
class AugmentedFace:
    """One training sample: warped input and clean target (BGR float32 (S, S, 3) [0, 1]),
    target landmarks (68, 2) in model-crop px."""

    warped: np.ndarray
    target: np.ndarray
    landmarks: np.ndarray


def augment_face(rng: np.random.Generator, image: np.ndarray, landmarks: np.ndarray, to_model: np.ndarray,
                 model_size: int, settings: AugmentSettings) -> AugmentedFace:
    """Make one training sample from a working crop.

    image: uint8 (W, W, 3) BGR working crop of an extracted face; landmarks: (68, 2) in its px;
    to_model: (2, 3) working px -> model-crop px; model_size: S.
    """
    size = image.shape[0]
    to_working = invert_matrix(to_model)
    centre = transform_points(np.array([[model_size / 2.0, model_size / 2.0]]), to_working)[0]  # the face centre
    transform = random_transform_matrix(rng, size, settings, centre)
    full = compose(transform, to_model)  # working px -> transformed -> model crop px
    target = cv2.warpAffine(image, full, (model_size, model_size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    map_x, map_y = warp_maps(rng, invert_matrix(full), model_size, settings.warp_noise)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    scale = np.float32(1.0 / 255.0)
    warped = warped.astype(np.float32) * scale
    target = target.astype(np.float32) * scale
    if settings.color_augmentation:
        change = random_color(rng, settings)
        warped = apply_color(warped, change)
        target = apply_color(target, change)
    return AugmentedFace(warped, target, transform_points(landmarks, full))

