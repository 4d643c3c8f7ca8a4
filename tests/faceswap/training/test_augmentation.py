"""Augmentation on real aligned faces: shapes, ranges, geometry of transform and warp, colour."""

from __future__ import annotations

import numpy as np

from faceswap.faces.alignment import transform_points
from faceswap.training.augmentation import (AugmentSettings, apply_color, augment_face, random_color,
                                            random_transform_matrix)

STILL = AugmentSettings(rotation_range=0.0, zoom_range=0.0, shift_range=0.0, flip_chance=0.0, warp_noise=0.0)


def _sample(face_set, index, settings, seed=0):
    return augment_face(np.random.default_rng(seed), face_set.images[index], face_set.landmarks[index],
                        face_set.to_model[index], 64, settings)


def test_samples_are_model_tensors(face_set_b):
    for index in range(len(face_set_b)):
        sample = _sample(face_set_b, index, AugmentSettings(), seed=index)
        for image in (sample.warped, sample.target):
            assert image.shape == (64, 64, 3) and image.dtype == np.float32
            assert 0.0 <= image.min() and image.max() <= 1.0
            assert image.std() > 0.05  # a real face, not a flat fill
        assert sample.landmarks.shape == (68, 2)


def test_without_randomness_target_and_input_are_the_clean_model_crop(face_set_b):
    for index in range(3):
        sample = _sample(face_set_b, index, STILL)
        np.testing.assert_allclose(sample.target, face_set_b.model_crop(index), atol=1e-6)
        assert np.abs(sample.warped - sample.target).mean() < 0.002  # remap == warpAffine up to rounding
        expected = transform_points(face_set_b.landmarks[index], face_set_b.to_model[index])
        np.testing.assert_allclose(sample.landmarks, expected, atol=1e-9)


def test_random_warp_distorts_the_input_but_not_the_target(face_set_b):
    settings = AugmentSettings(rotation_range=0.0, zoom_range=0.0, shift_range=0.0, flip_chance=0.0)
    differences = []
    for seed in range(6):
        sample = _sample(face_set_b, 0, settings, seed)
        np.testing.assert_allclose(sample.target, face_set_b.model_crop(0), atol=1e-6)
        differences.append(np.abs(sample.warped - sample.target).mean())
    assert min(differences) > 0.005 and max(differences) < 0.15  # distorted, still the same face


def test_flip_mirrors_image_and_landmarks_about_the_crop_centre(face_set_b):
    flipped = _sample(face_set_b, 1, AugmentSettings(rotation_range=0, zoom_range=0, shift_range=0,
                                                     flip_chance=1.0, warp_noise=0.0))
    plain = _sample(face_set_b, 1, STILL)
    np.testing.assert_allclose(flipped.landmarks[:, 0], 64.0 - plain.landmarks[:, 0], atol=1e-6)
    np.testing.assert_allclose(flipped.landmarks[:, 1], plain.landmarks[:, 1], atol=1e-6)
    # pixel x of the flipped crop samples crop coordinate 64 - x of the plain one
    assert np.abs(flipped.target[:, 1:] - plain.target[:, ::-1][:, :-1]).mean() < 0.002


def test_random_transform_stays_in_its_ranges():
    settings = AugmentSettings()
    rng = np.random.default_rng(3)
    angles, scales, flips = [], [], 0
    for _ in range(400):
        matrix = random_transform_matrix(rng, 154, settings)
        determinant = np.linalg.det(matrix[:, :2])
        flips += determinant < 0
        scales.append(np.sqrt(abs(determinant)))
        if determinant > 0:
            angles.append(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
        centre = matrix @ np.array([77.0, 77.0, 1.0])
        assert np.all(np.abs(centre - 77.0) <= 0.05 * 154 + 1e-9)  # shift at most 5 % of the crop
    assert 0.3 < flips / 400 < 0.5
    assert min(scales) >= 0.95 - 1e-9 and max(scales) <= 1.05 + 1e-9
    assert max(np.abs(angles)) <= 10.0 + 1e-9 and max(np.abs(angles)) > 8.0


def test_colour_augmentation_changes_input_and_target_alike(face_set_b):
    settings = AugmentSettings(color_augmentation=True)
    sample = _sample(face_set_b, 2, settings, seed=11)
    plain = _sample(face_set_b, 2, AugmentSettings(), seed=11)
    assert 0.0 <= sample.target.min() and sample.target.max() <= 1.0
    assert np.abs(sample.target - plain.target).mean() > 0.01
    change = random_color(np.random.default_rng(5), settings)
    np.testing.assert_allclose(apply_color(plain.target, (0.0, 1.0, 0.0, 0.0)), plain.target, atol=2e-3)
    assert apply_color(plain.target, change).dtype == np.float32
