"""Growing a trained model into a bigger config (training/growing.py, ``--grow-from``), on real faces:
every trained weight is kept, the new residual blocks start at zero so the grown model draws what the
trained one drew, a wider bottleneck starts as exactly the trained model, a source that does not fit is refused by name, and the trainer carries on from the
source's iteration and seed, then resumes the grown model like any other."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from faceswap.errors import CheckpointError, FaceswapError
from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.model.architecture import build_autoencoders, get_config
from faceswap.training.checkpoint import (Checkpoint, load_checkpoint, network_arrays, read_checkpoint,
                                          save_compact_checkpoint)
from faceswap.training.dataset import load_face_set
from faceswap.training.growing import grow_networks


def _checkpoint_of(config_name: str, path: Path) -> Checkpoint:
    """An untrained checkpoint of ``config_name`` (its freshly initialised weights) written at ``path``."""
    networks = build_autoencoders(config_name)
    meta = {"config": networks.config.to_dict(), "iteration": 7, "seed": 3}
    save_compact_checkpoint(Checkpoint(path, meta, network_arrays(networks)), path)
    return read_checkpoint(path)


def _swap(networks, faces: np.ndarray) -> np.ndarray:
    return np.asarray(networks.swap_model("a2b").predict(faces, verbose=0), dtype=np.float32)


def test_a_grown_model_keeps_every_trained_weight_and_draws_what_it_drew(test_model_work, face_folders):
    source = read_checkpoint(test_model_work / "model" / "checkpoint.npz")   # tiny, trained on d9 -> d12
    assert source.config.name == "tiny"
    grown = build_autoencoders("tiny-res")
    report = grow_networks(source, grown)

    weights = {key for key in source.arrays if not key.startswith("optimizer/")}
    assert set(report.copied) == weights
    # one residual block after each of the 3 upscales of both decoders: conv1 initialised, conv2 zeroed
    assert sorted(report.zeroed) == sorted(f"{d}/{d}_residual{i}_1_conv2/{w}" for d in ("decoder_a", "decoder_b")
                                           for i in (1, 2, 3) for w in ("kernel", "bias"))
    assert sorted(report.initialised) == sorted(k.replace("conv2", "conv1") for k in report.zeroed)
    variables = {f"{name}/{v.path}": v.numpy() for name, network in grown.networks().items() for v in network.weights}
    for key in weights:
        np.testing.assert_array_equal(variables[key], source.arrays[key].astype(np.float32), err_msg=key)
    for key in report.zeroed:
        assert not variables[key].any(), key
    assert report.parameters > report.source_parameters == sum(source.arrays[k].size for k in weights)

    trained = build_autoencoders("tiny")
    source.restore_networks(trained)
    faces = load_face_set("a", [face_folders[0]], CLASSIC_MODEL_LAYOUT, progress=False)
    batch = np.stack([faces.model_crop(i) for i in range(8)])
    before = _swap(trained, batch)
    after = _swap(grown, batch)
    # the zeroed branches leave the picture close to the trained model's ...
    drift = float(np.abs(after - before).mean())
    # ... where the same blocks left at their random initialisation would repaint it
    unzeroed = build_autoencoders("tiny-res")
    for name, network in unzeroed.networks().items():
        for variable in network.weights:
            key = f"{name}/{variable.path}"
            if key in weights:
                variable.assign(source.arrays[key].astype(np.float32))
    repainted = float(np.abs(_swap(unzeroed, batch) - before).mean())
    assert drift < 0.02 and drift < repainted / 3, (drift, repainted)


def test_a_wider_bottleneck_starts_as_exactly_the_trained_model(test_model_work, face_folders):
    source = read_checkpoint(test_model_work / "model" / "checkpoint.npz")   # tiny: a 64-wide bottleneck
    wider = build_autoencoders(dataclasses.replace(get_config("tiny"), name="tiny-wide", encoder_dense=96))
    report = grow_networks(source, wider)
    assert report.widened == ["encoder/encoder_dense1/kernel", "encoder/encoder_dense1/bias",
                              "encoder/encoder_dense2/kernel"]
    kernel = wider.encoder.get_layer("encoder_dense2").kernel.numpy()
    assert kernel.shape[0] == 96 and not kernel[64:].any()          # the new units are read through zeros
    new_units = wider.encoder.get_layer("encoder_dense1").kernel.numpy()[:, 64:]
    assert new_units.std() > 0                                      # ... and compute something to learn from
    trained = build_autoencoders("tiny")
    source.restore_networks(trained)
    faces = load_face_set("a", [face_folders[0]], CLASSIC_MODEL_LAYOUT, progress=False)
    batch = np.stack([faces.model_crop(i) for i in range(8)])
    np.testing.assert_allclose(_swap(wider, batch), _swap(trained, batch), atol=1e-6)


def test_a_source_that_does_not_fit_is_refused_by_name(tmp_path):
    bigger = _checkpoint_of("tiny-res", tmp_path / "tiny-res.npz")
    with pytest.raises(CheckpointError, match=r"tiny-res\.npz: cannot grow config 'tiny-res' into 'tiny': "
                                              r"decoder_a/decoder_a_residual1_1_conv1/bias has no place"):
        grow_networks(bigger, build_autoencoders("tiny"))
    other = _checkpoint_of("lite", tmp_path / "lite.npz")
    with pytest.raises(CheckpointError, match=r"cannot grow config 'lite' into 'tiny-res': .* has shape"):
        grow_networks(other, build_autoencoders("tiny-res"))
    # more filters before a pixel shuffle would scramble its channel groups: only Dense layers widen
    tiny = _checkpoint_of("tiny", tmp_path / "tiny.npz")
    more_filters = dataclasses.replace(get_config("tiny"), name="tiny-more", decoder_filters=(48, 24, 16))
    with pytest.raises(CheckpointError, match=r"decoder_a/decoder_a_upscale1_conv/bias has shape \(128,\), "
                                              r"the new config's has \(192,\)"):
        grow_networks(tiny, build_autoencoders(more_filters))


def test_the_trainer_grows_a_checkpoint_then_resumes_the_grown_model(tmp_path, train_tiny):
    train_tiny(tmp_path / "small", 10, seed=5)
    grown = train_tiny(tmp_path / "grown", 14, config="tiny-res", grow_from=str(tmp_path / "small"))
    assert (grown.start_iteration, grown.iteration) == (10, 14)
    saved = load_checkpoint(tmp_path / "grown")
    assert saved.config == get_config("tiny-res") and saved.iteration == 14 and saved.meta["seed"] == 5
    assert saved.meta["grown_from"] == {"path": str(tmp_path / "small" / "checkpoint.npz"), "config": "tiny",
                                        "iteration": 10, "copied": 30, "widened": 0, "initialised": 12, "zeroed": 12,
                                        "source_parameters": saved.meta["grown_from"]["source_parameters"],
                                        "parameters": sum(v.size for k, v in saved.arrays.items()
                                                          if not k.startswith("optimizer/"))}
    # the same command again resumes the grown model (the source is read only for the first run)
    again = train_tiny(tmp_path / "grown", 18, config="tiny-res", grow_from=str(tmp_path / "missing"))
    assert (again.start_iteration, again.iteration) == (14, 18)
    assert load_checkpoint(tmp_path / "grown").meta["grown_from"]["iteration"] == 10


def test_growing_across_face_sizes_is_refused_before_anything_is_written(tmp_path, train_tiny):
    _checkpoint_of("lite96", tmp_path / "lite96.npz")
    with pytest.raises(FaceswapError, match=r"--grow-from .*lite96\.npz: its config 'lite96' has 96-px faces, "
                                            r"--config tiny-res has 64-px ones"):
        train_tiny(tmp_path / "grown", 4, config="tiny-res", grow_from=str(tmp_path / "lite96.npz"))
    assert not (tmp_path / "grown").exists()
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        train_tiny(tmp_path / "grown", 4, config="tiny-res", grow_from=str(tmp_path / "nothing.npz"))
    assert not (tmp_path / "grown").exists()
