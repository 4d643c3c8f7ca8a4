"""The alignment maths to the pixel: Umeyama on mirrored, collinear and degenerate point sets, the
paste region's outline, the crop's magnification, and which resampling each kernel does (one warp,
or a whole-factor enlargement then one bilinear warp). Real faces where pixels are compared."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.faces.alignment import (CLASSIC_MODEL_LAYOUT, MEAN_FACE, align_face, alignment_matrix, crop_magnification,
                                      interpolation_flag, invert_matrix, paste_region, transform_points, umeyama,
                                      unalign_image, unalign_to_region, warp_to_crop)
from faceswap.images import read_image


def _similarity(angle: float, scale: float, shift=(0.0, 0.0)) -> np.ndarray:
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.hstack([scale * rotation, np.array(shift, dtype=np.float64)[:, None]])


def _crop_matrix(magnification: float, angle: float, centre, size: int = 64) -> np.ndarray:
    """image -> crop matrix of a ``size`` px crop whose centre lies at ``centre`` in the frame,
    each crop px covering ``magnification`` frame px, turned by ``angle``."""
    crop_to_frame = _similarity(angle, magnification)
    crop_to_frame[:, 2] = np.asarray(centre, dtype=np.float64) - crop_to_frame[:, :2] @ [size / 2, size / 2]
    full = np.vstack([crop_to_frame, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


@pytest.fixture(scope="module")
def face_s9(face_detector, still_path):
    image = read_image(still_path("s9"))
    return image, face_detector.detect(image)[0].landmarks


# ------------------------------------------------------------------ Umeyama

@pytest.mark.parametrize("scale_of_points", [0.01, 1.0, 500.0])
def test_umeyama_recovers_a_similarity_at_any_scale(scale_of_points):
    """Unit-square templates and pixel landmarks alike (a covariance determinant under 1 is not a mirror)."""
    rng = np.random.default_rng(3)
    source = rng.uniform(0, scale_of_points, (51, 2))
    truth = _similarity(-1.1, 0.37, (3.0, -2.0))
    matrix = umeyama(source, transform_points(source, truth))
    np.testing.assert_allclose(matrix[:2], truth, atol=1e-9)
    np.testing.assert_array_equal(matrix[2], [0.0, 0.0, 1.0])


def test_umeyama_without_scale_estimates_rotation_and_translation_only():
    rng = np.random.default_rng(4)
    source = rng.uniform(0, 100, (51, 2))
    target = transform_points(source, _similarity(0.4, 2.5, (7.0, 1.0)))
    matrix = umeyama(source, target, estimate_scale=False)
    assert np.linalg.det(matrix[:2, :2]) == pytest.approx(1.0)
    np.testing.assert_allclose(matrix[:2, :2], _similarity(0.4, 1.0)[:, :2], atol=1e-9)
    # the translation puts the centroids on each other
    np.testing.assert_allclose(transform_points(source.mean(axis=0, keepdims=True), matrix[:2]),
                               target.mean(axis=0, keepdims=True), atol=1e-9)


def _residual(source, target, matrix):
    return float(((transform_points(source, matrix) - target) ** 2).sum())


def test_a_mirrored_face_gets_the_best_rotation_never_a_reflection():
    """Landmarks of a mirrored face (x negated, point order kept): the crop must not come out
    flipped, so the matrix is a rotation, and the least-squares best one (checked against every
    angle in 0.1 degree steps with its own best scale and shift)."""
    rng = np.random.default_rng(5)
    source = MEAN_FACE * [-200.0, 200.0] + rng.normal(0, 3.0, MEAN_FACE.shape) + 300.0
    matrix = umeyama(source, MEAN_FACE)
    assert np.linalg.det(matrix[:2, :2]) > 0
    best = np.inf
    centred_source, centred_target = source - source.mean(axis=0), MEAN_FACE - MEAN_FACE.mean(axis=0)
    for angle in np.radians(np.arange(0.0, 360.0, 0.1)):
        rotated = centred_source @ _similarity(angle, 1.0)[:, :2].T
        scale = max(0.0, (rotated * centred_target).sum() / (rotated ** 2).sum())
        best = min(best, float(((scale * rotated - centred_target) ** 2).sum()))
    assert _residual(source, MEAN_FACE, matrix[:2]) <= best + 1e-9


def test_collinear_points_map_by_a_rotation():
    """Rank-one point sets (every landmark on one line, e.g. a profile squashed flat): the map is
    still a proper rotation with the right scale, never a reflection across the line."""
    rng = np.random.default_rng(6)
    for _ in range(20):
        along = rng.uniform(-1.0, 1.0, 51)
        direction = rng.normal(size=2)
        source = np.outer(along, direction) * 80.0 + rng.uniform(0, 300, 2)
        truth = _similarity(rng.uniform(-math.pi, math.pi), rng.uniform(0.2, 3.0), rng.uniform(-50, 50, 2))
        matrix = umeyama(source, transform_points(source, truth))
        assert np.linalg.det(matrix[:2, :2]) > 0
        np.testing.assert_allclose(transform_points(source, matrix[:2]), transform_points(source, truth), atol=1e-6)
        assert np.linalg.det(matrix[:2, :2]) == pytest.approx(np.linalg.det(truth[:, :2]))


def test_points_all_in_one_place_give_no_alignment():
    matrix = umeyama(np.full((51, 2), 40.0), MEAN_FACE)
    assert matrix.shape == (3, 3) and np.isnan(matrix).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_points_that_are_not_numbers_give_no_alignment_not_an_svd_error(bad):
    source = MEAN_FACE * 100.0
    source[7, 1] = bad
    for matrix in (umeyama(source, MEAN_FACE), umeyama(MEAN_FACE, source)):
        assert matrix.shape == (3, 3) and np.isnan(matrix).all()


def test_float32_landmarks_are_aligned_in_double_precision():
    """Detected landmarks are float32; the matrices are computed in float64 all the same."""
    rng = np.random.default_rng(7)
    landmarks = rng.uniform(100, 900, (68, 2)).astype(np.float32)
    template = MEAN_FACE.astype(np.float32)
    np.testing.assert_array_equal(umeyama(landmarks[17:], template),
                                  umeyama(landmarks[17:].astype(np.float64), template.astype(np.float64)))
    matrix = alignment_matrix(landmarks, CLASSIC_MODEL_LAYOUT)
    single = matrix.astype(np.float32)
    points = transform_points(landmarks, single)
    assert points.dtype == np.float64
    np.testing.assert_array_equal(points, landmarks.astype(np.float64) @ single.astype(np.float64)[:, :2].T
                                  + single.astype(np.float64)[:, 2])
    assert invert_matrix(single).dtype == np.float64


# ------------------------------------------------------------------ magnification, paste region

def test_crop_magnification_is_frame_px_per_crop_px():
    assert crop_magnification(_similarity(0.5, 0.25, (10.0, 20.0))) == pytest.approx(4.0)
    assert crop_magnification(_similarity(-2.0, 1.0 / 2.7)) == pytest.approx(2.7)
    # any linear part: 1 / sqrt(|determinant|), a mirror too
    sheared = np.array([[0.2, 0.3, 5.0], [-0.1, 0.4, 6.0]])
    assert crop_magnification(sheared) == pytest.approx(1.0 / math.sqrt(0.11))
    assert crop_magnification(np.array([[0.0, 0.5, 0.0], [0.5, 0.0, 0.0]])) == pytest.approx(2.0)
    assert crop_magnification(np.zeros((2, 3))) == 1.0   # a degenerate matrix: no enlargement


@pytest.mark.parametrize("angle_degrees", [30, 120, 210, 300])
def test_paste_region_is_the_crops_outline_plus_two_pixels(angle_degrees):
    """Each corner of the crop is the extreme one on some side for one of the angles."""
    matrix = _crop_matrix(4.0, math.radians(angle_degrees), (371.3, 402.6))
    frame_shape = (900, 800, 3)
    corners = np.array([[0, 0], [64, 0], [0, 64], [64, 64]], dtype=np.float64)
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    outline = corners @ inverse[:, :2].T + inverse[:, 2]
    expected = (math.floor(outline[:, 0].min()) - 2, math.floor(outline[:, 1].min()) - 2,
                math.ceil(outline[:, 0].max()) + 3, math.ceil(outline[:, 1].max()) + 3)
    assert paste_region(matrix, 64, frame_shape) == expected
    painted = unalign_image(np.full((64, 64), 255, np.uint8), matrix, frame_shape) > 127  # the crop, not its fringe
    rows, columns = np.nonzero(painted)
    x0, y0, x1, y1 = expected
    assert x0 <= columns.min() and columns.max() < x1 and y0 <= rows.min() and rows.max() < y1


@pytest.mark.parametrize("centre", [(10.0, 300.0), (300.0, 12.0), (590.0, 300.0), (300.0, 490.0), (5.0, 8.0)])
def test_paste_region_is_clipped_to_the_frame(centre):
    matrix = _crop_matrix(2.0, 0.3, centre)
    x0, y0, x1, y1 = paste_region(matrix, 64, (500, 600))
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    outline = np.array([[0, 0], [64, 0], [0, 64], [64, 64]]) @ inverse[:, :2].T + inverse[:, 2]
    assert x0 == max(0, math.floor(outline[:, 0].min()) - 2) and y0 == max(0, math.floor(outline[:, 1].min()) - 2)
    assert x1 == min(600, math.ceil(outline[:, 0].max()) + 3) and y1 == min(500, math.ceil(outline[:, 1].max()) + 3)


# ------------------------------------------------------------------ the kernels

@pytest.mark.parametrize("interpolation", ["linear", "cubic", "lanczos", "area"])
def test_a_face_cut_by_the_frame_edge_repeats_the_border_in_the_crop(face_s9, interpolation):
    """Where the crop reaches outside the frame it repeats the frame's edge pixels, never black."""
    image, landmarks = face_s9
    cut = np.ascontiguousarray(image[:, int(landmarks[30, 0]):])  # the frame starts at the nose tip
    shifted = landmarks - [int(landmarks[30, 0]), 0]
    crop, matrix = align_face(np.maximum(cut, 1), shifted, CLASSIC_MODEL_LAYOUT, interpolation)
    assert crop.max(axis=2).min() > 0
    outside = transform_points([[-20.0, shifted[30, 1]]], matrix)[0]  # a crop pixel left of the frame
    u, v = int(outside[0]), int(outside[1])
    assert 0 <= u < 64 and 0 <= v < 64


@pytest.mark.parametrize("interpolation", ["cubic", "lanczos", "area"])
def test_each_named_kernel_is_applied(face_s9, interpolation):
    image, landmarks = face_s9
    linear, _ = align_face(image, landmarks, CLASSIC_MODEL_LAYOUT, "linear")
    crop, _ = align_face(image, landmarks, CLASSIC_MODEL_LAYOUT, interpolation)
    assert np.abs(crop.astype(int) - linear).mean() > 0.2


def test_the_area_kernel_samples_where_the_linear_one_does(face_s9):
    """On a brightness ramp, bilinear sampling is exact and a box average is the value at the box's
    centre: the area crop equals the linear one unless its 4x4 blocks are off-centre."""
    image, landmarks = face_s9
    height, width = image.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = columns + 2.0 * rows
    matrix = alignment_matrix(landmarks, CLASSIC_MODEL_LAYOUT)
    assert crop_magnification(matrix) > 2.0
    difference = warp_to_crop(ramp, matrix, 64, "area") - warp_to_crop(ramp, matrix, 64, "linear")
    assert np.abs(difference).max() < 0.1


def _place(crop, matrix, region, flag):
    x0, y0, x1, y1 = region
    to_region = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    return cv2.warpAffine(crop, to_region[:2], (x1 - x0, y1 - y0), flags=flag | cv2.WARP_INVERSE_MAP)


@pytest.mark.parametrize("interpolation, magnification", [
    ("linear", 3.0), ("area", 3.0), ("cubic", 1.4), ("lanczos", 1.4), ("cubic", 1.5), ("lanczos", 2.0), ("cubic", 2.0),
    ("cubic", 6.0)])
def test_paste_back_resamples_once_or_enlarges_by_a_whole_factor_first(aligned_still_s9, interpolation, magnification):
    """``linear`` (and ``area``, which has no enlarging kernel) and kernels enlarging under 1.5x:
    one warp with that kernel. ``cubic``/``lanczos`` from 1.5x: the crop enlarged by the
    magnification rounded up (at most 4) with the kernel, then one bilinear warp."""
    crop = aligned_still_s9
    matrix = _crop_matrix(magnification, 0.0, (301.3, 252.7))
    region = paste_region(matrix, 64, (600, 640))
    result = unalign_to_region(crop, matrix, region, interpolation)
    flag = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
            "lanczos": cv2.INTER_LANCZOS4}[interpolation]
    if flag != cv2.INTER_LINEAR and magnification >= 1.5:
        factor = min(4, math.ceil(magnification))
        enlarged = cv2.resize(crop, (64 * factor, 64 * factor), interpolation=flag)
        to_enlarged = np.array([[factor, 0.0, (factor - 1) / 2], [0.0, factor, (factor - 1) / 2]])
        expected = _place(enlarged, to_enlarged @ np.vstack([matrix, [0.0, 0.0, 1.0]]), region, cv2.INTER_LINEAR)
    else:
        expected = _place(crop, matrix, region, flag)
    np.testing.assert_array_equal(result, expected)


def test_unalign_image_uses_the_kernel_it_is_given(aligned_still_s9):
    crop = aligned_still_s9
    matrix = _crop_matrix(2.5, 0.2, (200.0, 180.0))
    full = unalign_image(crop, matrix, (400, 380, 3), "cubic")
    np.testing.assert_array_equal(full, unalign_to_region(crop, matrix, (0, 0, 380, 400), "cubic"))
    assert not np.array_equal(full, unalign_image(crop, matrix, (400, 380, 3)))


def test_unknown_interpolation_names_the_choices():
    with pytest.raises(InputError, match="expected one of linear, cubic, lanczos, area$"):
        interpolation_flag("nearest")


@pytest.fixture(scope="module")
def aligned_still_s9(face_s9):
    image, landmarks = face_s9
    crop, _ = align_face(image, landmarks, CLASSIC_MODEL_LAYOUT)
    return crop
