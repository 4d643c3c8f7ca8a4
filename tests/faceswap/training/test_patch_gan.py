"""The GAN term (training/patch_gan.py): the patch discriminator's two turns send gradients where
they belong, it learns to tell decoder B's reconstructions from real faces of side B on real
faces, its weights and Adam state live in the checkpoint beside the code discriminator's in any
combination (checkpoint.optimizer_groups), and switching it on or off resumes the rest intact."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from faceswap.errors import CheckpointError
from faceswap.model.architecture import get_config
from faceswap.training import patch_gan, true_face
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.losses import LossSettings
from faceswap.training.trainer import Trainer


def _train(model_dir, face_folders, tiny_settings, iterations, gan=0.0, true_face_power=0.0, **overrides):
    side_a, side_b = face_folders
    trainer = Trainer([side_a], [side_b], model_dir, tiny_settings(iterations=iterations, **overrides),
                      loss=LossSettings(eyes_mouth_weight=0, true_face_power=true_face_power, gan_power=gan),
                      progress=False)
    return trainer.run()


def _part(model_dir, name) -> dict[str, np.ndarray]:
    checkpoint = load_checkpoint(model_dir)
    return {key: value for key, value in checkpoint.arrays.items() if key.startswith(f"{name}/")}


def _group_state(model_dir, group) -> list[np.ndarray]:
    """The Adam moments (momentum, velocity per variable) that the checkpoint keeps for ``group``."""
    checkpoint = load_checkpoint(model_dir)
    keys = sorted(key for key in checkpoint.arrays if key.startswith("optimizer/"))
    first = 1
    for name, count in checkpoint.optimizer_groups():
        if name == group:
            return [checkpoint.arrays[key] for key in keys[first:first + 2 * count]]
        first += 2 * count
    raise AssertionError(f"no {group} in {checkpoint.optimizer_groups()}")


def _carried_on(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    """True if the velocities ``after`` one more step are the ``before`` ones carried on (beta2 0.999:
    within a few per cent), not a fresh start (which leaves (1 - 0.999) * g**2, about 0.1 %)."""
    relative = [float(np.abs(new - old).sum() / max(np.abs(old).sum(), 1e-30))
                for old, new in zip(before[1::2], after[1::2])]
    return len(relative) > 0 and float(np.median(relative)) < 0.1


@pytest.mark.parametrize("kind", ["patch", "unet"])
def test_each_turn_sends_its_gradient_to_one_player_only(gradient_turns, kind):
    import tensorflow as tf

    config = get_config("tiny")
    discriminator = patch_gan.build_patch_discriminator(config, kind)
    size = config.input_size
    faces = np.random.default_rng(0).random((2, size, size, 3)).astype(np.float32)
    for frozen, (logits, to_faces, to_weights) in gradient_turns(discriminator, faces).items():
        if kind == "patch":   # one logit per patch: three stride-2 convolutions
            assert tuple(logits.shape) == (2, -(-size // 8), -(-size // 8), 1)
        else:                 # a logit per pixel, and the coarse one of the pixel's cell
            assert tuple(logits.shape) == (2, size, size, 2)
        assert logits.dtype == tf.float32
        if frozen:   # the generator's turn: through the faces, the discriminator's weights untouched
            assert to_faces is not None and float(tf.reduce_max(tf.abs(to_faces))) > 0
            assert all(g is None for g in to_weights)
        else:        # the discriminator's turn: its weights learn, the faces are only read
            assert to_faces is None
            assert all(g is not None for g in to_weights)


@pytest.mark.parametrize("kind", ["patch", "unet"])
def test_it_learns_to_tell_soft_faces_from_sharp_ones(blur_trained_discriminator, kind):
    """What it is for: on real faces of d12, after 80 steps it scores every face it did not train on
    higher than the same face blurred as an autoencoder blurs it (Gaussian, sigma 1.2 px): the
    direction its gradient then gives decoder B. (Untrained, seeds 0-3 rank 0 / 100 / 0 / 67 % of the
    three held-out pairs right, at random; trained, 100 % for each seed.)"""
    model, held_out, blur = blur_trained_discriminator(kind, 80)
    soft, sharp = model.predict(blur(held_out), verbose=0), model.predict(held_out, verbose=0)
    assert len(held_out) >= 3
    for channel in range(soft.shape[-1]):     # the U-Net's per-pixel verdict and its coarse one alike
        verdict_soft = soft[..., channel].mean(axis=(1, 2))
        verdict_sharp = sharp[..., channel].mean(axis=(1, 2))
        assert np.all(verdict_sharp > verdict_soft), (channel, verdict_soft, verdict_sharp)


def test_the_discriminator_learns_and_comes_back_from_the_checkpoint(tmp_path, face_folders, tiny_settings, caplog):
    model_dir = tmp_path / "model"
    caplog.set_level("INFO", logger="faceswap.training.trainer")
    result = _train(model_dir, face_folders, tiny_settings, 40, gan=0.1)
    assert result.iteration == 40
    saved = _part(model_dir, patch_gan.DISCRIMINATOR_NAME)
    assert saved and all(np.isfinite(value).all() for value in saved.values())
    logged = [r.getMessage() for r in caplog.records if "GAN losses" in r.getMessage()]
    assert len(logged) == 4      # every preview interval (10)
    assert all(np.isfinite(float(m.split("discriminator ")[1].split(" /")[0])) for m in logged)
    checkpoint = load_checkpoint(model_dir)
    assert checkpoint.meta["gan_power"] == 0.1
    networks_count = checkpoint.optimizer_groups()[0][1]
    assert checkpoint.optimizer_groups() == [("networks", networks_count), (patch_gan.DISCRIMINATOR_NAME, len(saved))]
    _train(model_dir, face_folders, tiny_settings, 50, gan=0.1)
    resumed = _part(model_dir, patch_gan.DISCRIMINATOR_NAME)
    assert resumed.keys() == saved.keys()
    assert any(not np.array_equal(resumed[key], saved[key]) for key in saved)   # trained on, not started over


def test_switching_either_part_on_or_off_keeps_the_rest(tmp_path, face_folders, tiny_settings, caplog):
    model_dir = tmp_path / "model"
    _train(model_dir, face_folders, tiny_settings, 20, gan=0.1, true_face_power=0.01)
    both = load_checkpoint(model_dir)
    names = [name for name, _ in both.optimizer_groups()]
    assert names == ["networks", true_face.DISCRIMINATOR_NAME, patch_gan.DISCRIMINATOR_NAME]
    code_weights = _part(model_dir, true_face.DISCRIMINATOR_NAME)
    patch_state = _group_state(model_dir, patch_gan.DISCRIMINATOR_NAME)

    # the code discriminator (in the middle of the saved state) switched off: the patch one's state is kept
    caplog.set_level("INFO", logger="faceswap.training.trainer")
    _train(model_dir, face_folders, tiny_settings, 21, gan=0.1)
    assert any("code discriminator (true face power 0.01) that this run does not use" in r.getMessage()
               and r.levelname == "WARNING" for r in caplog.records)
    after = load_checkpoint(model_dir)
    assert [name for name, _ in after.optimizer_groups()] == ["networks", patch_gan.DISCRIMINATOR_NAME]
    assert not _part(model_dir, true_face.DISCRIMINATOR_NAME)
    assert _carried_on(patch_state, _group_state(model_dir, patch_gan.DISCRIMINATOR_NAME))

    # and back on: the code discriminator starts afresh in the middle, the networks' moments carry on
    caplog.clear()
    networks_state = _group_state(model_dir, "networks")
    _train(model_dir, face_folders, tiny_settings, 22, gan=0.1, true_face_power=0.01)
    assert any("has no code discriminator: it starts afresh" in r.getMessage() for r in caplog.records)
    again = load_checkpoint(model_dir)
    assert [name for name, _ in again.optimizer_groups()] == names
    assert _part(model_dir, true_face.DISCRIMINATOR_NAME).keys() == code_weights.keys()
    assert _carried_on(networks_state, _group_state(model_dir, "networks"))
    fresh = _group_state(model_dir, true_face.DISCRIMINATOR_NAME)
    assert not _carried_on([value * 0 + 1 for value in fresh], fresh)    # the helper can tell a fresh start

    # loss.csv holds both parts' losses per iteration, an empty cell where one was off (iteration 21)
    with open(model_dir / "loss.csv", newline="") as handle:
        rows = {int(row["iteration"]): row for row in csv.DictReader(handle)}
    assert sorted(rows) == list(range(1, 23))
    for iteration, row in rows.items():
        assert 0 < float(row["gan_discriminator"]) < 5 and 0 < float(row["gan_generator"]) < 20
        assert (row["true_face_discriminator"] == "") == (iteration == 21)
    assert 0 < float(rows[22]["true_face_discriminator"]) < 5


def test_a_mismatched_optimizer_layout_is_a_corrupt_checkpoint(tmp_path, face_folders, tiny_settings):
    import json

    model_dir = tmp_path / "model"
    _train(model_dir, face_folders, tiny_settings, 10, gan=0.1)
    path = model_dir / "checkpoint.npz"
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["optimizer_groups"][0][1] += 1     # one network variable more than the state holds
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="optimizer state has"):
        _train(model_dir, face_folders, tiny_settings, 12, gan=0.1)


@pytest.mark.parametrize("field", ["gan_power", "true_face_power"])
def test_a_negative_power_is_refused_before_anything_is_read(tmp_path, field):
    from faceswap.errors import FaceswapError
    from faceswap.training.trainer import TrainSettings

    with pytest.raises(FaceswapError, match=f"--{field.replace('_', '-')} must be 0 \\(off\\) or more, not -0.1"):
        Trainer([tmp_path / "missing-a"], [tmp_path / "missing-b"], tmp_path / "model", TrainSettings(config="tiny"),
                loss=LossSettings(**{field: -0.1}), progress=False)
