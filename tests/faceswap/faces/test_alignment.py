"""The alignment maths: Umeyama, layouts, align / un-align round trips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.faces.alignment import (CLASSIC_MODEL_LAYOUT, EXTRACT_LAYOUT, MEAN_FACE, FaceLayout, align_face,
                                      alignment_matrix, compose, interpolation_flag, invert_matrix, paste_region,
                                      relayout_matrix, transform_points, umeyama, unalign_image, unalign_to_region,
                                      warp_to_crop)
from faceswap.images import read_image


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, (51, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = source @ (scale * rotation).T + shift
    matrix = umeyama(source, target)
    np.testing.assert_allclose(matrix[:2, :2], scale * rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:2, 2], shift, atol=1e-9)


def test_mean_face_lands_on_the_layout_square():
    landmarks = np.zeros((68, 2))
    landmarks[17:] = MEAN_FACE * 300 + 40      # a face that is exactly the template, scaled
    matrix = alignment_matrix(landmarks, EXTRACT_LAYOUT)
    aligned = transform_points(landmarks[17:], matrix)
    np.testing.assert_allclose(aligned, MEAN_FACE * 160 + 48, atol=1e-6)


def test_relayout_maps_extract_crop_to_model_crop():
    matrix = relayout_matrix(EXTRACT_LAYOUT, CLASSIC_MODEL_LAYOUT)
    corners = transform_points(np.array([[48.0, 48.0], [208.0, 208.0]]), matrix)
    np.testing.assert_allclose(corners, [[0, 0], [64, 64]], atol=1e-9)
    # composing image->extract with extract->model equals image->model directly
    rng = np.random.default_rng(1)
    landmarks = rng.uniform(100, 300, (68, 2))
    direct = alignment_matrix(landmarks, CLASSIC_MODEL_LAYOUT)
    composed = compose(alignment_matrix(landmarks, EXTRACT_LAYOUT), matrix)
    np.testing.assert_allclose(direct, composed, atol=1e-9)


def test_layout_round_trips_through_dict():
    layout = FaceLayout(128, 0.1)
    assert FaceLayout.from_dict(layout.to_dict()) == layout


@pytest.mark.parametrize("layout", [EXTRACT_LAYOUT, CLASSIC_MODEL_LAYOUT, FaceLayout(128, 0.125)])
def test_align_then_unalign_returns_landmarks_within_one_pixel(face_detector, still_path, layout):
    image = read_image(still_path("s4"))
    face = face_detector.detect(image)[0]
    crop, matrix = align_face(image, face.landmarks, layout)
    assert crop.shape == (layout.size, layout.size, 3) and crop.dtype == np.uint8
    in_crop = transform_points(face.landmarks, matrix)
    back = transform_points(in_crop, invert_matrix(matrix))
    assert np.abs(back - face.landmarks).max() < 1.0
    # and through pixels: mark the landmark positions in the crop, warp the crop back, find the marks
    marks = np.zeros((layout.size * 4, layout.size * 4), np.uint8)
    scale_up = np.array([[4.0, 0, 0], [0, 4.0, 0]])
    for x, y in transform_points(in_crop[[36, 45, 30, 48, 54]], scale_up):
        cv2.circle(marks, (int(round(x)), int(round(y))), 6, 255, -1)
    unaligned = unalign_image(marks, compose(matrix, scale_up), image.shape)
    count, _, _, centroids = cv2.connectedComponentsWithStats((unaligned > 127).astype(np.uint8))
    found = centroids[1:]
    assert count - 1 == 5
    for point in face.landmarks[[36, 45, 30, 48, 54]]:
        assert np.linalg.norm(found - point, axis=1).min() < 1.0 + 4.0 / (matrix[0, 0] ** 2 + matrix[0, 1] ** 2) ** 0.5


def test_unalign_to_region_matches_full_frame_unalign(face_detector, still_path):
    image = read_image(still_path("s8"))
    face = face_detector.detect(image)[0]
    crop, matrix = align_face(image, face.landmarks, CLASSIC_MODEL_LAYOUT)
    region = paste_region(matrix, CLASSIC_MODEL_LAYOUT.size, image.shape)
    x0, y0, x1, y1 = region
    assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
    full = unalign_image(crop, matrix, image.shape)
    part = unalign_to_region(crop, matrix, region)
    # equal up to OpenCV's fixed-point (1/32 px) interpolation rounding
    difference = np.abs(full[y0:y1, x0:x1].astype(int) - part.astype(int))
    assert difference.mean() < 0.1 and difference.max() <= 10
    outside = full.copy()
    outside[y0:y1, x0:x1] = 0
    assert outside.max() == 0


@pytest.mark.parametrize("interpolation", ["linear", "cubic", "lanczos", "area"])
def test_every_named_kernel_cuts_out_the_same_face(face_detector, still_path, interpolation):
    """Kernels change sharpness, never where the face is: each crop is close to the bilinear one."""
    image = read_image(still_path("s9"))
    face = face_detector.detect(image)[0]
    reference, matrix = align_face(image, face.landmarks, CLASSIC_MODEL_LAYOUT)
    crop, same_matrix = align_face(image, face.landmarks, CLASSIC_MODEL_LAYOUT, interpolation)
    np.testing.assert_array_equal(matrix, same_matrix)
    assert crop.shape == reference.shape and crop.dtype == np.uint8
    assert np.abs(crop.astype(int) - reference).mean() < 6.0
    assert abs(float(crop.mean()) - float(reference.mean())) < 1.0  # no shift of brightness or position


def test_area_kernel_averages_what_a_shrinking_warp_would_skip(face_detector, still_path):
    """Cutting a large face down to 64 px: bilinear samples 2x2 of every ~4x4 frame px (aliasing),
    the area kernel averages them all — its crop is what a box filter of the frame gives."""
    image = read_image(still_path("s10"))
    face = face_detector.detect(image)[0]
    matrix = alignment_matrix(face.landmarks, CLASSIC_MODEL_LAYOUT)
    box_filtered = cv2.blur(image, (5, 5))
    reference = warp_to_crop(box_filtered, matrix, 64, "linear").astype(int)
    area = warp_to_crop(image, matrix, 64, "area").astype(int)
    linear = warp_to_crop(image, matrix, 64, "linear").astype(int)
    assert np.abs(area - reference).mean() < 0.25 * np.abs(linear - reference).mean()


def test_unknown_interpolation_is_a_clear_error(still_path):
    from faceswap.errors import InputError

    with pytest.raises(InputError, match="unknown interpolation 'bicubic'"):
        interpolation_flag("bicubic")
    assert interpolation_flag(cv2.INTER_CUBIC) == cv2.INTER_CUBIC == interpolation_flag("cubic")


@pytest.mark.parametrize("kernel", ["cubic", "lanczos"])
def test_pasting_back_with_a_sharper_kernel_keeps_position_and_more_detail(face_detector, still_path, kernel):
    """The crop goes back 2.7x enlarged: the kernel's result (enlarged by cv2.resize, then one
    bilinear warp) lies where the bilinear one does and keeps more of the crop's detail."""
    image = read_image(still_path("s9"))
    face = face_detector.detect(image)[0]
    crop, matrix = align_face(image, face.landmarks, CLASSIC_MODEL_LAYOUT, "cubic")
    region = paste_region(matrix, 64, image.shape)
    linear = unalign_to_region(crop, matrix, region, "linear").astype(np.float64)
    sharper = unalign_to_region(crop, matrix, region, kernel).astype(np.float64)
    assert sharper.shape == linear.shape
    x0, y0, x1, y1 = region
    inner = np.zeros(linear.shape[:2], dtype=bool)
    inner[(y1 - y0) // 4: -(y1 - y0) // 4, (x1 - x0) // 4: -(x1 - x0) // 4] = True
    grey = lambda picture: np.ascontiguousarray(cv2.cvtColor(picture.astype(np.float32), cv2.COLOR_BGR2GRAY)[
        (y1 - y0) // 4: -(y1 - y0) // 4, (x1 - x0) // 4: -(x1 - x0) // 4])
    (shift_x, shift_y), _ = cv2.phaseCorrelate(grey(linear), grey(sharper))  # the face, not the crop's border
    assert abs(shift_x) < 0.1 and abs(shift_y) < 0.1, (shift_x, shift_y)
    detail = lambda picture: cv2.Laplacian(cv2.cvtColor(picture.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float64),
                                           cv2.CV_64F)[inner].var()
    assert detail(sharper) > 1.15 * detail(linear)
