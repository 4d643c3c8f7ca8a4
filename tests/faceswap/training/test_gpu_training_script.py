"""The CPU half of GPU training (scripts/gpu_training): a bundle of face packs and settings is
prepared from real face folders, the wheels it names cover what Keras needs beyond a JAX/PyTorch
machine, and run.sh / train_gpu.py train from the bundle alone on the JAX backend with augmentation in
worker processes, stops at its wall-clock budget (loading and compiling count: 1 minute here), and writes the checkpoint, the compact
checkpoint in parts and summary.json."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from faceswap.training.checkpoint import load_checkpoint
from scripts.default_model.recipe import recipe_options
from scripts.gpu_training.prepare_bundle import WHEELS, locked_versions
from scripts.gpu_training.train_gpu import parse as parse_train_gpu, steady_rate
from tests.conftest import REPO_ROOT

# What the GPU machines' Python images (PyTorch / JAX) already hold of Keras' requirements.
GPU_IMAGE_HAS = {"absl-py", "numpy", "rich", "h5py", "ml-dtypes", "packaging"}


def test_the_wheels_cover_what_keras_needs_beyond_a_jax_or_pytorch_machine():
    pins = locked_versions(WHEELS)
    assert [pin.split("==")[0] for pin in pins] == list(WHEELS)
    assert pins[0] == f"keras=={importlib.metadata.version('keras')}"
    needed = {re.split(r"[ ;<>=!~\[]", requirement)[0].lower().replace("_", "-")
              for requirement in importlib.metadata.requires("keras") if "extra ==" not in requirement}
    assert needed - GPU_IMAGE_HAS <= set(WHEELS), needed - GPU_IMAGE_HAS - set(WHEELS)


def test_the_steady_rate_counts_this_run_only(tmp_path):
    from faceswap.training.loss_log import LossLog

    log = LossLog(tmp_path / "loss.csv")
    for iteration in range(1, 11):   # an earlier run in the same folder: 1 it/s
        log.add(iteration, 0.1, 0.1, iteration - 1.0)
    for iteration in range(11, 21):  # this run, resumed at 10: 4 it/s
        log.add(iteration, 0.1, 0.1, 20 + (iteration - 11) / 4)
    log.save()
    assert steady_rate(tmp_path / "loss.csv", 2, start_iteration=10) == (4.0, 7)
    assert steady_rate(tmp_path / "loss.csv", 9, start_iteration=10) == (pytest.approx(float("nan"), nan_ok=True), 0)
    assert steady_rate(tmp_path / "missing.csv", 0)[1] == 0


def test_train_gpu_trains_from_the_bundle_on_jax_until_its_budget(face_folders, tmp_path):
    pytest.importorskip("jax")
    bundle, output = tmp_path / "bundle", tmp_path / "out"
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    prepared = subprocess.run(
        [sys.executable, "scripts/gpu_training/prepare_bundle.py", "--side-a", str(face_folders[0]), "--side-b",
         str(face_folders[1]), "--config", "tiny", "--output", str(bundle), "--no-wheels", "--quality", "90",
         "--", "--batch-size", "8", "--learning-rate", "1e-3", "--iterations", "100000", "--precision", "float32"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    described = json.loads((bundle / "bundle.json").read_text())
    assert described["side_a"] == ["faces_a.npz"] and described["faces"]["b"] >= 8
    assert described["jpeg_quality"] == 90 and described["recipe"] == "scripts/default_model/train_options.txt"
    # the default model's recipe first, then this bundle's config, then the options after `--` (which win)
    recipe = recipe_options()
    assert described["train_args"] == [*recipe, "--config", "tiny", "--oversample", "1.5", "--batch-size", "8",
                                       "--learning-rate", "1e-3", "--iterations", "100000", "--precision", "float32"]
    parsed = parse_train_gpu(["--bundle", str(bundle), "--output", str(output)])
    assert (parsed.config, parsed.batch_size, parsed.learning_rate) == ("tiny", 8, 1e-3)
    assert parsed.warmup_iterations == int(recipe[recipe.index("--warmup-iterations") + 1])
    assert parsed.balance is ("--no-balance" not in recipe) and parsed.precision == "float32"

    trained = subprocess.run(  # run.sh as on the GPU machine (no wheels in this bundle: nothing to install)
        ["bash", str(REPO_ROOT / "scripts/gpu_training/run.sh"), str(bundle), str(output), "--backend", "jax",
         "--minutes", "1.0", "--workers", "2", "--save-interval", "1000", "--preview-interval", "1000",
         "--part-mb", "0.2", "--steady-after", "1"],
        cwd=tmp_path, env={**environment, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["backend"] == "jax" and summary["config"] == "tiny" and summary["batch_size"] == 8
    assert summary["stopped_by_budget"] and summary["workers"] == 2
    # at least one iteration fits the budget even on a busy machine (JAX compiles the step first)
    assert summary["iteration"] >= 1 and summary["it_per_s"] > 0, summary
    assert summary["loss_first"] and all(np.isfinite(summary["loss_last50_mean"]))
    # the recipe's two adversarial parts, read back from loss.csv: both players' losses of each
    assert sorted(summary["adversarial_last50_mean"]) == ["gan_discriminator", "gan_generator",
                                                          "true_face_discriminator", "true_face_encoder"]
    assert all(0 < value < 50 for value in summary["adversarial_last50_mean"].values()), summary
    assert summary["run_seconds"] < 60 + 30  # the budget holds, saving included
    checkpoint = load_checkpoint(output / "model")
    assert checkpoint.iteration == summary["iteration"]
    parts = summary["checkpoint_parts"]  # a model directory of parts of at most 0.2 MB (+ zip headers)
    assert parts[:2] == ["compact/checkpoint.npz", "compact/checkpoint.part2.npz"]
    assert all((output / part).stat().st_size <= 200_000 + 4096 for part in parts)
    compact = load_checkpoint(output / "compact")
    assert compact.compact and compact.iteration == checkpoint.iteration
    key = next(k for k in checkpoint.arrays if k.startswith("encoder/"))
    np.testing.assert_allclose(compact.arrays[key].astype(np.float32), checkpoint.arrays[key], atol=1e-3, rtol=1e-2)

    # A second bundle carries the trained model as a compact checkpoint; the next GPU run resumes it.
    again = subprocess.run(
        [sys.executable, "scripts/gpu_training/prepare_bundle.py", "--side-a", str(face_folders[0]), "--side-b",
         str(face_folders[1]), "--config", "tiny", "--output", str(bundle), "--no-wheels",
         "--resume-from", str(output / "model"), "--no-recipe", "--", "--batch-size", "8", "--iterations", "100000"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    described = json.loads((bundle / "bundle.json").read_text())
    assert described["resumes"] and described["recipe"] is None
    assert described["train_args"] == ["--config", "tiny", "--oversample", "1.5", "--batch-size", "8",
                                       "--iterations", "100000"]
    assert load_checkpoint(bundle).compact
    resumed = subprocess.run(
        [sys.executable, "scripts/gpu_training/train_gpu.py", "--bundle", str(bundle), "--output",
         str(tmp_path / "out2"), "--minutes", "0.75", "--workers", "1", "--quiet"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    second = json.loads((tmp_path / "out2" / "summary.json").read_text())
    assert second["start_iteration"] == summary["iteration"] and second["iteration"] >= second["start_iteration"]
