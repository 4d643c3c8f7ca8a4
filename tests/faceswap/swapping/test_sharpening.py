"""Unsharp mask of the swapped face: it raises the contrast of fine detail by the amount asked,
and only as far as the paste enlarges the face."""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.swapping.sharpening import paste_magnification, sharpen_for_paste, unsharp_mask


def _laplacian_variance(face: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).astype(np.float64), cv2.CV_64F).var())


def test_amount_zero_is_the_face_itself(aligned_still):
    face = aligned_still("s0").crop.astype(np.float32) / 255.0
    assert unsharp_mask(face, 0.0) is face


def test_sharpening_grows_with_the_amount_and_keeps_the_mean(aligned_still):
    face = aligned_still("s0").crop.astype(np.float32) / 255.0
    details = [_laplacian_variance(unsharp_mask(face, amount)) for amount in (0.0, 0.5, 1.0)]
    assert details[0] * 1.3 < details[1] < details[2]
    sharpened = unsharp_mask(face, 1.0)
    assert sharpened.dtype == np.float32 and sharpened.min() >= 0.0 and sharpened.max() <= 1.0
    assert abs(float(sharpened.mean()) - float(face.mean())) < 0.01


def test_magnification_is_frame_px_per_crop_px(aligned_still):
    still = aligned_still("s0")
    assert paste_magnification(np.array([[0.25, 0.0, 3.0], [0.0, 0.25, -1.0]])) == 4.0
    rotation = np.array([[0.5 * np.cos(0.3), -0.5 * np.sin(0.3), 0.0], [0.5 * np.sin(0.3), 0.5 * np.cos(0.3), 0.0]])
    assert abs(paste_magnification(rotation) - 2.0) < 1e-9
    assert paste_magnification(still.matrix) > 1.0  # the sample still's face is larger than 64 px


def test_a_face_the_paste_does_not_enlarge_is_not_sharpened(aligned_still):
    face = aligned_still("s0").crop.astype(np.float32) / 255.0
    enlarged = lambda times: np.array([[1.0 / times, 0.0, 0.0], [0.0, 1.0 / times, 0.0]])
    assert sharpen_for_paste(face, enlarged(1.0), 1.0) is face
    assert sharpen_for_paste(face, enlarged(1.5), 1.0) is face
    np.testing.assert_allclose(sharpen_for_paste(face, enlarged(2.0), 1.0), unsharp_mask(face, 0.5), atol=1e-6)
    np.testing.assert_allclose(sharpen_for_paste(face, enlarged(4.0), 0.5), unsharp_mask(face, 0.5), atol=1e-6)
