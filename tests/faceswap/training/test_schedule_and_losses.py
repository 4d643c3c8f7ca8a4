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


def _box_blurred(images: np.ndarray) -> np.ndarray:
    """3x3 box blur of (N, H, W, C) images, edges repeated."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    height, width = images.shape[1:3]
    return sum(padded[:, dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3)) / 9.0


def test_gradient_difference_is_the_mean_absolute_difference_of_edge_strengths():
    from faceswap.training.losses import gradient_difference

    rng = np.random.default_rng(1)
    target = rng.random((2, 12, 10, 3), dtype=np.float32)
    prediction = rng.random((2, 12, 10, 3), dtype=np.float32)
    down = np.abs(np.abs(np.diff(target, axis=1)) - np.abs(np.diff(prediction, axis=1))).mean()
    across = np.abs(np.abs(np.diff(target, axis=2)) - np.abs(np.diff(prediction, axis=2))).mean()
    assert float(gradient_difference(target, prediction)) == pytest.approx((down + across) / 2, rel=1e-5)
    assert float(gradient_difference(target, target)) == 0.0
    assert float(gradient_difference(target, target + 0.1)) == pytest.approx(0.0, abs=1e-6)  # an offset has no edges


def test_the_gradient_difference_term_costs_a_soft_face_more_than_an_offset_of_the_same_mse():
    rng = np.random.default_rng(2)
    target = rng.random((2, 32, 32, 3), dtype=np.float32)
    soft = _box_blurred(target).astype(np.float32)
    offset = (target + np.sqrt(np.mean((soft - target) ** 2))).astype(np.float32)  # the same squared error
    mask = np.ones((2, 32, 32), np.float32)
    off = LossSettings(dssim_weight=0.0, mse_weight=10.0, eyes_mouth_weight=0.0)
    on = LossSettings(dssim_weight=0.0, mse_weight=10.0, eyes_mouth_weight=0.0, gradient_difference_weight=10.0)
    assert float(masked_face_loss(target, soft, mask, off)) == pytest.approx(
        float(masked_face_loss(target, offset, mask, off)), rel=1e-4)
    soft_gain = float(masked_face_loss(target, soft, mask, on)) - float(masked_face_loss(target, soft, mask, off))
    offset_gain = float(masked_face_loss(target, offset, mask, on)) - float(masked_face_loss(target, offset, mask, off))
    assert soft_gain > 1.0 and offset_gain == pytest.approx(0.0, abs=1e-4)


def test_a_negative_gradient_difference_weight_is_refused(tmp_path):
    from faceswap.errors import FaceswapError
    from faceswap.training.trainer import Trainer

    with pytest.raises(FaceswapError, match="--gradient-difference-weight must be 0 \\(off\\) or more, not -1"):
        Trainer([tmp_path / "missing-a"], [tmp_path / "missing-b"], tmp_path / "model", TrainSettings(config="tiny"),
                loss=LossSettings(gradient_difference_weight=-1.0), progress=False)


def test_a_run_with_the_gradient_difference_term_trains_and_records_its_weight(tmp_path, face_folders, tiny_settings):
    import json

    from faceswap.training.trainer import Trainer

    side_a, side_b = face_folders
    result = Trainer([side_a], [side_b], tmp_path / "model", tiny_settings(iterations=20),
                     loss=LossSettings(eyes_mouth_weight=0, gradient_difference_weight=10.0), progress=False).run()
    assert result.iteration == 20 and np.isfinite(result.loss_a) and np.isfinite(result.loss_b)
    arrays = np.load(tmp_path / "model" / "checkpoint.npz")
    meta = json.loads(arrays["meta"].tobytes())
    assert meta["gradient_difference_weight"] == 10.0 and meta["iteration"] == 20
