"""The alignment maths: one implementation for extraction, training, conversion and serving.

A face is aligned by the similarity transform (rotation, uniform scale, translation) that best
maps its 51 inner landmarks (classic points 17-67) onto a fixed mean-face template, estimated
with Umeyama's method as in the classic deepfakes code. The template lives in a unit square;
a ``FaceLayout`` says how big the crop is and how much margin surrounds that square:

* ``FaceLayout(256, 0.1875)`` — the classic extraction layout (256 px, 48 px padding);
* ``FaceLayout(64, 0.0)`` — what the classic 64 px model sees: the central 160 px of the
  extracted face (62.5 % coverage).

Matrices are OpenCV 2x3 affine float64 matrices mapping source pixel (x, y) to target pixel.

Resampling: a face is resampled once to cut it out (``align_face``) and once to put it back
(``unalign_to_region``), each in ONE warp straight from the frame / crop (matrices are composed,
never two warps in a row). ``INTERPOLATIONS`` names the kernels: ``linear`` (bilinear), ``cubic``
(bicubic, a = -0.75), ``lanczos`` (Lanczos-4, 8x8) and, for cutting out only, ``area`` (the
crop warped at 4x and box-averaged down, i.e. an anti-aliased area average). Which to use where is
measured in docs/merge-settings.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Mean face (classic points 17-67) in the unit square, from the original deepfakes aligner.
_MEAN_FACE_X = [
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689]
_MEAN_FACE_Y = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182]
MEAN_FACE = np.stack([_MEAN_FACE_X, _MEAN_FACE_Y], axis=1)  # (51, 2), unit square
TEMPLATE_POINTS = slice(17, 68)  # which of the 68 landmarks the template describes


@dataclass(frozen=True)
class FaceLayout:
    """An aligned crop: ``size`` px square; the template's unit square spans
    ``[size * padding_ratio, size * (1 - padding_ratio)]`` on both axes."""

    size: int
    padding_ratio: float

    @property
    def inner_size(self) -> float:
        return self.size * (1.0 - 2.0 * self.padding_ratio)

    @property
    def offset(self) -> float:
        return self.size * self.padding_ratio

    def to_dict(self) -> dict:
        return {"size": int(self.size), "padding_ratio": float(self.padding_ratio)}

    @classmethod
    def from_dict(cls, data: dict) -> "FaceLayout":
        return cls(int(data["size"]), float(data["padding_ratio"]))


EXTRACT_LAYOUT = FaceLayout(256, 0.1875)
CLASSIC_MODEL_LAYOUT = FaceLayout(64, 0.0)


def umeyama(source: np.ndarray, target: np.ndarray, estimate_scale: bool = True) -> np.ndarray:
    """Least-squares similarity transform (3x3, float64) mapping ``source`` (N, 2) onto ``target`` (N, 2).

    Umeyama, "Least-squares estimation of transformation parameters between two point patterns",
    PAMI 1991 — the same estimator the classic deepfakes aligner uses. The rotation is
    U S V^T with S = diag(1, det(U) det(V)) (eq. 39-43: for a full-rank covariance det(U) det(V)
    is the sign of its determinant, for rank 1 it is the paper's own choice), so a mirrored point
    set gets the best rotation, never a reflection. Points all in one place, or any point not
    finite (a failed landmark model), give a matrix of NaN.
    ``estimate_scale=False``: rotation and translation only. Computed in float64 whatever the input dtype.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if not (np.all(np.isfinite(source)) and np.all(np.isfinite(target))):
        return np.full((3, 3), np.nan)   # an SVD of NaN would raise LinAlgError
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    source_centred = source - source_mean
    # cross-covariance; the target needs no centring: the centred source sums to zero
    covariance = target.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    if not singular.any():  # rank 0: no direction to match
        return np.full((3, 3), np.nan)
    signs = np.array([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ np.diag(signs) @ vt
    scale = 1.0 / source_centred.var(axis=0).sum() * (singular @ signs) if estimate_scale else 1.0
    transform = np.eye(3)
    transform[:2, :2] = scale * rotation
    transform[:2, 2] = target_mean - scale * (rotation @ source_mean)
    return transform


def alignment_matrix(landmarks68: np.ndarray, layout: FaceLayout) -> np.ndarray:
    """(2, 3) float64 matrix mapping image px -> aligned-crop px, from (68, 2) px landmarks."""
    unit = umeyama(np.asarray(landmarks68)[TEMPLATE_POINTS], MEAN_FACE)[:2].copy()
    unit *= layout.inner_size
    unit[:, 2] += layout.offset
    return unit


def relayout_matrix(source: FaceLayout, target: FaceLayout) -> np.ndarray:
    """(2, 3) matrix mapping px of a crop in ``source`` layout to px of the same face in ``target`` layout."""
    scale = target.inner_size / source.inner_size
    shift = target.offset - source.offset * scale
    return np.array([[scale, 0.0, shift], [0.0, scale, shift]])


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix (aligned-crop px -> image px)."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def compose(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """(2, 3) matrix that applies ``first`` and then ``then``."""
    return np.asarray(then) @ np.vstack([first, [0.0, 0.0, 1.0]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) matrix to (N, 2) points; returns (N, 2) float64."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.asarray(points) @ matrix[:, :2].T + matrix[:, 2]


INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4,
                  "area": cv2.INTER_AREA}
PASTE_INTERPOLATIONS = ("linear", "cubic", "lanczos")
_AREA_SUPERSAMPLING = 4
_MAX_PRE_ENLARGE = 4


def _enlargement(factor: int) -> np.ndarray:
    """(2, 3) matrix from crop px to px of the crop enlarged ``factor`` times: u' = factor u + (factor - 1) / 2
    maps the centres of a factor x factor block onto the crop pixel's centre."""
    shift = (factor - 1) / 2.0
    return np.array([[factor, 0.0, shift], [0.0, factor, shift]])


def interpolation_flag(interpolation: int | str) -> int:
    """An OpenCV ``INTER_*`` flag from a name of ``INTERPOLATIONS`` (or a flag, returned as is).
    Raises InputError for an unknown name."""
    if isinstance(interpolation, str):
        if interpolation not in INTERPOLATIONS:
            from faceswap.errors import InputError

            raise InputError(f"unknown interpolation {interpolation!r}: expected one of {', '.join(INTERPOLATIONS)}")
        return INTERPOLATIONS[interpolation]
    return int(interpolation)


def warp_to_crop(image: np.ndarray, matrix: np.ndarray, size: int, interpolation: int | str = cv2.INTER_LINEAR) -> np.ndarray:
    """One warp of ``image`` (H, W[, C], any dtype) by the image -> crop ``matrix`` into a (size, size) crop.

    interpolation: a name of ``INTERPOLATIONS`` or an OpenCV flag. ``area`` warps at 4x the size
    with bilinear sampling and averages 4x4 blocks down (anti-aliased where the face shrinks); the
    other kernels sample the frame directly. Pixels outside the image repeat the border.
    """
    flag = interpolation_flag(interpolation)
    if flag == cv2.INTER_AREA:
        factor = _AREA_SUPERSAMPLING
        big = cv2.warpAffine(image, compose(matrix, _enlargement(factor)), (size * factor, size * factor),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(image, matrix, (size, size), flags=flag, borderMode=cv2.BORDER_REPLICATE)


def align_face(image: np.ndarray, landmarks68: np.ndarray, layout: FaceLayout,
               interpolation: int | str = cv2.INTER_LINEAR) -> tuple[np.ndarray, np.ndarray]:
    """Cut the aligned face out of ``image`` (uint8 (H, W, 3) BGR) in one warp (``warp_to_crop``).

    interpolation: a name of ``INTERPOLATIONS`` or an OpenCV flag.
    Returns ``(crop, matrix)``: crop uint8 (S, S, 3) BGR in ``layout``; matrix (2, 3) image -> crop.
    Pixels outside the image repeat the border.
    """
    matrix = alignment_matrix(landmarks68, layout)
    return warp_to_crop(image, matrix, layout.size, interpolation), matrix


def paste_region(matrix: np.ndarray, crop_size: int, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Bounding box ``(x0, y0, x1, y1)`` in the frame, clipped, that a crop aligned by ``matrix`` covers."""
    corners = np.array([[0, 0], [crop_size, 0], [0, crop_size], [crop_size, crop_size]])
    frame_corners = transform_points(corners, invert_matrix(matrix))
    height, width = frame_shape[:2]
    # two extra pixels each side: interpolation reaches a pixel beyond the crop's outline
    x0 = int(max(0, np.floor(frame_corners[:, 0].min()) - 2))
    y0 = int(max(0, np.floor(frame_corners[:, 1].min()) - 2))
    x1 = int(min(width, np.ceil(frame_corners[:, 0].max()) + 3))
    y1 = int(min(height, np.ceil(frame_corners[:, 1].max()) + 3))
    return x0, y0, max(x0, x1), max(y0, y1)


def unalign_to_region(crop: np.ndarray, matrix: np.ndarray, region: tuple[int, int, int, int],
                      interpolation: int | str = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp an aligned crop (S, S[, C], any dtype) back into frame px, only for ``region``.

    ``matrix`` is the image -> crop matrix used to align; ``region`` is ``(x0, y0, x1, y1)`` from
    :func:`paste_region`; interpolation: ``linear``, ``cubic``, ``lanczos`` or an OpenCV flag.
    A crop enlarged 1.5x or more with ``cubic`` / ``lanczos`` is first enlarged by a whole factor
    (the magnification rounded up, at most 4) with that kernel (``cv2.resize``), then placed by one bilinear warp at about 1:1:
    90-95 % of the detail a single bicubic warp keeps for 1/6 of its cost (docs/merge-settings.md).
    Returns an array (y1-y0, x1-x0[, C]) of the crop's dtype; pixels the crop does not cover are 0.
    """
    x0, y0, x1, y1 = region
    # region px (u, v) = frame px (u + x0, v + y0)
    shifted = compose(np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]]), matrix)
    flag = interpolation_flag(interpolation)
    if flag == cv2.INTER_AREA:  # no area kernel when a crop is enlarged: bilinear
        flag = cv2.INTER_LINEAR
    magnification = crop_magnification(matrix)
    factor = min(_MAX_PRE_ENLARGE, int(np.ceil(magnification)))
    if flag in (cv2.INTER_CUBIC, cv2.INTER_LANCZOS4) and magnification >= 1.5:
        # warpAffine's bicubic has no vectorised path (~7x the bilinear warp); cv2.resize's has:
        # enlarge by a whole factor with the kernel, then one bilinear warp at about 1:1 places it.
        height, width = crop.shape[:2]
        crop = cv2.resize(crop, (width * factor, height * factor), interpolation=flag)
        shifted = compose(shifted, _enlargement(factor))
        flag = cv2.INTER_LINEAR
    # OpenCV's default border: constant 0 where the crop does not reach
    return cv2.warpAffine(crop, shifted, (x1 - x0, y1 - y0), flags=flag | cv2.WARP_INVERSE_MAP)


def crop_magnification(matrix: np.ndarray) -> float:
    """How many frame px one crop px covers, for an image -> crop ``matrix`` (2, 3) (1 / its scale)."""
    (a, b, _), (c, d, _) = np.asarray(matrix).tolist()
    determinant = abs(a * d - b * c)
    return float(1.0 / np.sqrt(determinant)) if determinant > 0 else 1.0


def unalign_image(crop: np.ndarray, matrix: np.ndarray, frame_shape: tuple[int, ...],
                  interpolation: int | str = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp an aligned crop back to a full frame of ``frame_shape`` (uncovered pixels are 0)."""
    height, width = frame_shape[:2]
    return unalign_to_region(crop, matrix, (0, 0, width, height), interpolation)
