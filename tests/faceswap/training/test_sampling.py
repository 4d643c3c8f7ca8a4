"""Balanced batches (training/sampling.py): every identity and every yaw bin of it equally likely,
and the draws a pure function of (seed, side, iteration)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from faceswap.training.sampling import balanced_indices, balanced_probabilities, yaw_proxy


def _face(nose_offset: float) -> np.ndarray:
    """68 landmarks with eye corners at x 40 and 60 and the nose tip shifted by ``nose_offset`` x IOD."""
    points = np.zeros((68, 2))
    points[36] = (40, 50)
    points[45] = (60, 50)
    points[30] = (50 + 20 * nose_offset, 60)
    return points


def test_yaw_proxy_is_the_nose_offset_over_the_inter_ocular_distance():
    assert np.allclose(yaw_proxy(np.stack([_face(0.0), _face(0.3), _face(-0.1)])), [0.0, 0.3, -0.1])


def test_a_long_clip_does_not_outweigh_a_single_photo():
    identities = ["clip"] * 300 + ["photo"]
    landmarks = np.stack([_face(0.0)] * 301)
    p = balanced_probabilities(identities, landmarks)
    assert np.isclose(p[:300].sum(), 0.5) and np.isclose(p[300], 0.5)
    drawn = Counter(balanced_indices(p, 4000, seed=0, side_index=0, iteration=0) == 300)
    assert 0.45 < drawn[True] / 4000 < 0.55


def test_rare_head_turns_are_drawn_as_often_as_frontal_faces():
    landmarks = np.stack([_face(0.0)] * 90 + [_face(0.35)] * 10)
    p = balanced_probabilities(["one"] * 100, landmarks)
    assert np.isclose(p[:90].sum(), 0.5) and np.isclose(p[90:].sum(), 0.5)


def test_draws_depend_only_on_seed_side_and_iteration():
    p = balanced_probabilities(list("abcdefgh"), np.stack([_face(0.0)] * 8))
    first = balanced_indices(p, 16, seed=3, side_index=1, iteration=7)
    assert np.array_equal(first, balanced_indices(p, 16, seed=3, side_index=1, iteration=7))
    assert not np.array_equal(first, balanced_indices(p, 16, seed=3, side_index=1, iteration=8))
    assert not np.array_equal(first, balanced_indices(p, 16, seed=3, side_index=0, iteration=7))
