"""DeepFaceLab's U-Net patch discriminator (training/unet_discriminator.py): its architecture search
picks what DeepFaceLab's ``find_archi`` picks, its per-pixel verdict says *where* a face is soft,
and the trainer switches between it and the PatchGAN on a resume without mixing their weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from faceswap.model.architecture import get_config
from faceswap.training import patch_gan
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.losses import LossSettings
from faceswap.training.train_step import OUTPUT_GAN_GENERATOR
from faceswap.training.trainer import Trainer
from faceswap.training.unet_discriminator import build_unet_discriminator, choose_strides, receptive_field


def test_the_receptive_field_of_3x3_stacks():
    assert receptive_field([2]) == 3
    assert receptive_field([2, 1]) == 7 and receptive_field([2, 2]) == 7
    assert receptive_field([2, 1, 2]) == 11 and receptive_field([2, 2, 1]) == 15
    assert receptive_field([2, 1, 1]) == 11 and receptive_field([2, 1, 1, 1]) == 15


@pytest.mark.parametrize("patch_size", [1, 4, 8, 12, 16, 24, 40])
def test_the_strides_are_the_closest_receptive_field_with_the_fewest_layers(patch_size):
    strides = choose_strides(patch_size)
    assert strides[0] == 2 and set(strides) <= {1, 2}
    reachable = {}   # every stack of up to 6 layers DeepFaceLab considers: field -> (layers, strides)
    for layers in range(1, 7):
        for tail in itertools.product((1, 2), repeat=layers - 1):
            reachable.setdefault(receptive_field([2, *tail]), []).append([2, *tail])
    closest = min(abs(field - patch_size) for field in reachable)
    field = receptive_field(strides)
    assert abs(field - patch_size) == closest
    assert len(strides) == min(len(s) for s in reachable[field])
    assert sum(strides) == max(sum(s) for s in reachable[field] if len(s) == len(strides))


def test_at_96_px_it_is_deepfacelabs_default():
    """SAEHD at resolution 96: gan_patch_size 12 -> three 3x3 convolutions, strides 2, 1, 2 (receptive
    field 11 px, as 2, 1, 1 has, with less downsampling), gan_dims 16 -> 16, 32, 64, 128 channels."""
    layer = patch_gan.build_patch_discriminator(get_config("lite96"), "unet")
    assert layer.name == patch_gan.UNET_DISCRIMINATOR_NAME
    assert layer.strides == [2, 1, 2] and layer.channels == [16, 32, 64, 128] and layer.scale == 4
    with pytest.raises(ValueError, match="does not divide"):
        build_unet_discriminator("odd", 90, 3, patch_size=12, base=16)
    with pytest.raises(ValueError, match="one of patch, unet"):
        patch_gan.build_patch_discriminator(get_config("lite96"), "stylegan")


def test_the_coarse_verdict_covers_its_cell_and_the_pixel_verdict_does_not():
    config = get_config("tiny")
    layer = patch_gan.build_patch_discriminator(config, "unet")
    faces = np.random.default_rng(1).random((2, config.input_size, config.input_size, 3)).astype(np.float32)
    logits = np.asarray(layer(faces))
    cell = layer.scale
    coarse = logits[..., 1].reshape(2, config.input_size // cell, cell, config.input_size // cell, cell)
    assert np.all(coarse == coarse[:, :, :1, :, :1])
    pixels = logits[..., 0].reshape(coarse.shape)
    assert np.all(pixels.std(axis=(2, 4)) > 0)


def test_its_pixel_verdict_finds_the_soft_half_of_a_face(blur_trained_discriminator):
    """The per-pixel verdict says where a face looks drawn: trained only on whole faces, sharp (real)
    against blurred as an autoencoder blurs (sigma 1.2 px), on a held-out face blurred in one half
    only its per-pixel verdict is lower on that half than on the sharp one, for every held-out face
    and either half (so decoder B is pushed on the soft part, not on the whole face)."""
    model, held_out, blur = blur_trained_discriminator("unet", 120)
    size = held_out.shape[2]
    soft = blur(held_out)
    half = size // 2
    margin = 4     # leave out the seam, where the verdict sees both halves
    for soft_side in (slice(0, half), slice(half, size)):
        mixed = held_out.copy()
        mixed[:, :, soft_side] = soft[:, :, soft_side]
        pixels = model.predict(mixed, verbose=0)[..., 0]
        left, right = pixels[:, :, :half - margin].mean(axis=(1, 2)), pixels[:, :, half + margin:].mean(axis=(1, 2))
        soft_verdict, sharp_verdict = (left, right) if soft_side.start == 0 else (right, left)
        assert len(held_out) >= 3 and np.all(sharp_verdict > soft_verdict), (soft_side, soft_verdict, sharp_verdict)


def test_switching_the_discriminator_on_a_resume_starts_the_new_one_afresh(tmp_path, face_folders, tiny_settings,
                                                                          caplog):
    side_a, side_b = face_folders
    model_dir = tmp_path / "model"

    def train(iterations, kind):
        trainer = Trainer([side_a], [side_b], model_dir, tiny_settings(iterations=iterations),
                          loss=LossSettings(eyes_mouth_weight=0, gan_power=0.1, gan_discriminator=kind),
                          progress=False)
        return trainer.run()

    train(10, "patch")
    networks = {k: v for k, v in load_checkpoint(model_dir).arrays.items() if k.startswith("encoder/")}
    caplog.set_level("INFO", logger="faceswap.training.trainer")
    train(14, "unet")
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert any(level == "INFO" and "has no unet discriminator: it starts afresh" in m for level, m in messages)
    assert any(level == "WARNING" and "patch discriminator that this run does not use (it trains the unet" in m
               for level, m in messages)
    checkpoint = load_checkpoint(model_dir)
    assert checkpoint.meta["gan_discriminator"] == "unet" and checkpoint.iteration == 14
    assert [name for name, _ in checkpoint.optimizer_groups()][1:] == [patch_gan.UNET_DISCRIMINATOR_NAME]
    assert checkpoint.extra_count(patch_gan.UNET_DISCRIMINATOR_NAME) and not checkpoint.extra_count(
        patch_gan.DISCRIMINATOR_NAME)
    assert all(np.isfinite(v).all() for k, v in checkpoint.arrays.items() if k != "meta")
    assert any(not np.array_equal(checkpoint.arrays[k], v) for k, v in networks.items())   # trained on


def test_the_generator_term_sums_both_verdicts_as_deepfacelab_does():
    """DeepFaceLab adds gan_power x (loss of the per-pixel map + loss of the coarse map); the model's
    output holds both maps and its loss is their mean, so the generator's weight is 2 x gan_power."""
    from faceswap.model.architecture import build_autoencoders
    from faceswap.training.train_step import make_train_step
    from faceswap.training.trainer import TrainSettings, make_optimizer

    config = get_config("tiny")
    for kind, maps in (("patch", 1), ("unet", 2)):
        step = make_train_step(build_autoencoders(config), make_optimizer(TrainSettings()), LossSettings(gan_power=0.1),
                               patch_discriminator=patch_gan.build_patch_discriminator(config, kind))
        assert step.loss_weights[OUTPUT_GAN_GENERATOR] == pytest.approx(0.1 * maps)
