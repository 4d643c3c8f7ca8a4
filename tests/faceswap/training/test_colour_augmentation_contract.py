"""Training colour augmentation changes the warped input and the clean target alike: the network
must learn to undo the warp, never to recolour a face (faceswap/training/augmentation.py)."""

from __future__ import annotations

import numpy as np

from faceswap.training.augmentation import AugmentSettings, augment_face

# No geometry and no warp: without colour the input equals the target up to resampling rounding.
STILL = dict(rotation_range=0.0, zoom_range=0.0, shift_range=0.0, flip_chance=0.0, warp_noise=0.0)


def _sample(face_set, index, settings, seed):
    return augment_face(np.random.default_rng(seed), face_set.images[index], face_set.landmarks[index],
                        face_set.to_model[index], 64, settings)


def test_colour_augmentation_recolours_input_and_target_by_the_same_change(face_set_b):
    for index, seed in ((0, 3), (2, 11), (4, 29)):
        plain = _sample(face_set_b, index, AugmentSettings(**STILL), seed)
        coloured = _sample(face_set_b, index, AugmentSettings(color_augmentation=True, **STILL), seed)
        assert np.abs(plain.warped - plain.target).mean() < 0.002
        # Both images were recoloured ...
        assert np.abs(coloured.target - plain.target).mean() > 0.01
        assert np.abs(coloured.warped - plain.warped).mean() > 0.01
        # ... by the same change: they are still the same picture.
        assert np.abs(coloured.warped - coloured.target).mean() < 0.004
        np.testing.assert_allclose(coloured.warped.mean(axis=(0, 1)), coloured.target.mean(axis=(0, 1)), atol=0.004)
