"""The learning-rate schedule (warm-up, cosine decay) and the eyes-and-mouth loss term."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceswap.faces.masks import eyes_mouth_mask
from faceswap.training.losses import LossSettings, masked_face_loss
from faceswap.training.trainer import TrainSettings, learning_rate_at


def test_warm_up_then_cosine_decay_to_the_floor():
    settings = TrainSettings(learning_rate=1e-4, iterations=1100, warmup_iterations=100, decay_floor=0.2)
    assert learning_rate_at(0, settings) == pytest.approx(1e-6)
    assert learning_rate_at(49, settings) == pytest.approx(0.5e-4)
    assert learning_rate_at(100, settings) == pytest.approx(1e-4)
    assert learning_rate_at(600, settings) == pytest.approx(0.6e-4)
    assert learning_rate_at(1100, settings) == pytest.approx(0.2e-4)
    rates = [learning_rate_at(i, settings) for i in range(100, 1101, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_a_phase_that_stops_early_follows_the_whole_runs_schedule():
    whole = TrainSettings(learning_rate=1e-4, iterations=1100, warmup_iterations=100, decay_floor=0.2)
    first_half = TrainSettings(learning_rate=1e-4, iterations=600, warmup_iterations=100, decay_floor=0.2,
                               decay_end=1100)
    assert [learning_rate_at(i, first_half) for i in (0, 100, 350, 599)] == \
        [learning_rate_at(i, whole) for i in (0, 100, 350, 599)]
    assert learning_rate_at(599, first_half) > 0.6e-4  # not decayed to the floor at its own end
    assert learning_rate_at(600, TrainSettings(learning_rate=1e-4, iterations=600, warmup_iterations=100,
                                               decay_floor=0.2)) == pytest.approx(0.2e-4)


def test_defaults_keep_a_constant_learning_rate():
    settings = TrainSettings(learning_rate=5e-5)
    assert {learning_rate_at(i, settings) for i in (0, 10, 99_999)} == {5e-5}


def test_eyes_and_mouth_mask_covers_those_regions_only(face_set_b):
    size = 64
    landmarks = face_set_b.landmarks[0] @ face_set_b.to_model[0][:, :2].T + face_set_b.to_model[0][:, 2]
    mask = eyes_mouth_mask(landmarks, size)
    for index in (37, 44, 62):  # an eye lid point of each eye, the inner lip
        x, y = np.round(landmarks[index]).astype(int)
        assert mask[y, x] == 1.0
    x, y = np.round(landmarks[30]).astype(int)  # nose tip
    assert mask[y, x] == 0.0
    assert 0.03 < mask.mean() < 0.35


def test_errors_in_the_eyes_and_mouth_cost_more_than_elsewhere():
    rng = np.random.default_rng(0)
    target = rng.random((2, 32, 32, 3), dtype=np.float32)
    mask = np.ones((2, 32, 32), np.float32)
    region = np.zeros((2, 32, 32), np.float32)
    region[:, 10:20, 10:20] = 1.0
    inside, outside = target.copy(), target.copy()
    inside[:, 12:16, 12:16] += 0.2
    outside[:, 0:4, 0:4] += 0.2
    settings = LossSettings()
    loss_inside = float(masked_face_loss(target, inside, mask, settings, region))
    loss_outside = float(masked_face_loss(target, outside, mask, settings, region))
    assert loss_inside > loss_outside * 1.5
    off = LossSettings(eyes_mouth_weight=0.0)
    assert math.isclose(float(masked_face_loss(target, inside, mask, off, region)),
                        float(masked_face_loss(target, inside, mask, off)), rel_tol=1e-6)
