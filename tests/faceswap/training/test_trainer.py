"""Training runs on real faces: the loss falls, checkpoints resume bit-identically, a checkpoint
of another config is refused untouched, bad data fails before anything is written, a kill in the
middle of a save keeps the last good checkpoint, and Ctrl-C saves and exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from faceswap.errors import CheckpointError, InputError
from faceswap.model.architecture import build_autoencoders
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.trainer import Trainer

REPO_ROOT = Path(__file__).resolve().parents[3]


def _weights(model_dir) -> dict[str, np.ndarray]:
    return {k: v for k, v in load_checkpoint(model_dir).arrays.items()}


def test_training_lowers_the_loss_and_resumes_bit_identically(tmp_path, train_tiny):
    straight = train_tiny(tmp_path / "straight", 20)
    assert straight.iteration == 20 and not straight.interrupted

    first = train_tiny(tmp_path / "resumed", 10)
    saved = load_checkpoint(tmp_path / "resumed")
    assert saved.iteration == 10 and saved.meta["seed"] == 0 and saved.meta["sides"]["b"]["faces"] >= 8
    # resuming loads exactly the saved weights
    networks = build_autoencoders("tiny")
    saved.restore_networks(networks)
    for name, network in networks.networks().items():
        for variable in network.weights:
            np.testing.assert_array_equal(variable.numpy(), saved.arrays[f"{name}/{variable.path}"])

    second = train_tiny(tmp_path / "resumed", 20)
    assert second.start_iteration == 10 and second.iteration == 20
    # ... and continues exactly where an uninterrupted run would be
    assert first.losses + second.losses == straight.losses
    resumed, uninterrupted = _weights(tmp_path / "resumed"), _weights(tmp_path / "straight")
    assert resumed.keys() == uninterrupted.keys()
    for key in uninterrupted:
        if key != "meta":
            np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)

    third = train_tiny(tmp_path / "resumed", 60)  # the loss keeps falling after the resume
    losses = np.array([a + b for _, a, b in straight.losses + third.losses])
    assert losses[-10:].mean() < 0.92 * losses[:10].mean(), losses

    model_dir = tmp_path / "resumed"
    rows = (model_dir / "loss.csv").read_text().splitlines()
    assert rows[0] == "iteration,loss_a,loss_b,seconds" and len(rows) == 61
    assert [int(r.split(",")[0]) for r in rows[1:]] == list(range(1, 61))
    for name in ("preview.png", "loss.png"):
        assert (model_dir / name).read_bytes().startswith(b"\x89PNG")
    assert not list(model_dir.glob(".*.tmp"))


def test_a_finished_model_is_not_trained_further(tmp_path, train_tiny):
    train_tiny(tmp_path / "model", 10)
    before = (tmp_path / "model" / "checkpoint.npz").read_bytes()
    result = train_tiny(tmp_path / "model", 10)
    assert result.iteration == result.start_iteration == 10
    assert (tmp_path / "model" / "checkpoint.npz").read_bytes() == before


def test_checkpoint_of_another_config_is_refused_and_left_alone(tmp_path, train_tiny):
    model_dir = tmp_path / "model"
    train_tiny(model_dir, 10)
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in model_dir.iterdir()}
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz: this checkpoint was trained with config 'tiny', "
                                              r"not 'lite'; use --config tiny"):
        train_tiny(model_dir, 20, config="lite")
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in model_dir.iterdir()} == files


def test_corrupt_checkpoint_is_a_checkpoint_error(tmp_path, train_tiny):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "checkpoint.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz: corrupt checkpoint"):
        train_tiny(model_dir, 10)


def test_empty_data_folder_is_named_and_nothing_is_written(face_folders, tmp_path, tiny_settings):
    empty = tmp_path / "no_faces_here"
    empty.mkdir()
    with pytest.raises(InputError, match="no_faces_here"):
        Trainer([face_folders[0]], [empty], tmp_path / "model", tiny_settings(iterations=5), progress=False).run()
    assert not (tmp_path / "model").exists()


KILL_MID_SAVE = textwrap.dedent("""
    import sys, time
    import numpy as np
    from faceswap.model.architecture import build_autoencoders
    from faceswap.training import checkpoint
    from faceswap.training.trainer import TrainSettings, make_optimizer, trainable_variables

    model_dir, marker = sys.argv[1], sys.argv[2]
    networks = build_autoencoders("tiny")
    optimizer = make_optimizer(TrainSettings())
    optimizer.build(trainable_variables(networks))
    checkpoint.save_checkpoint(model_dir, networks, optimizer, {"iteration": 1, "seed": 0})
    networks.encoder.weights[0].assign(networks.encoder.weights[0].numpy() + 1.0)
    real_savez = np.savez

    def savez_then_hang(handle, **arrays):
        real_savez(handle, **arrays)
        handle.flush()
        handle.truncate(handle.tell() // 2)       # half of the new checkpoint is on disk ...
        open(marker, "w").close()
        time.sleep(60)                            # ... when the process is killed

    checkpoint.np.savez = savez_then_hang
    checkpoint.save_checkpoint(model_dir, networks, optimizer, {"iteration": 2, "seed": 0})
""")


def test_a_kill_in_the_middle_of_a_save_keeps_the_last_good_checkpoint(tmp_path):
    model_dir, marker = tmp_path / "model", tmp_path / "saving"
    model_dir.mkdir()
    process = subprocess.Popen([sys.executable, "-c", KILL_MID_SAVE, str(model_dir), str(marker)], cwd=REPO_ROOT,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the second save never started"
            time.sleep(0.1)
        assert list(model_dir.glob(".checkpoint.npz.*.tmp"))  # the torn new checkpoint
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    saved = load_checkpoint(model_dir)
    assert saved.iteration == 1
    networks = build_autoencoders("tiny")
    saved.restore_networks(networks)  # every array present and well-formed


def test_ctrl_c_saves_the_checkpoint_and_exits_cleanly(face_folders, tmp_path):
    model_dir = tmp_path / "model"
    command = [sys.executable, "-m", "faceswap", "train", "--side-a", str(face_folders[0]),
               "--side-b", str(face_folders[1]), "--model-dir", str(model_dir), "--config", "tiny",
               "--iterations", "100000", "--batch-size", "4", "--save-interval", "100000",
               "--preview-interval", "3"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        deadline = time.monotonic() + 180
        while not (model_dir / "preview.png").exists():  # the training loop is running
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert "Traceback" not in stderr.decode()
    text = stdout.decode()
    assert "stopped (Ctrl-C) at iteration" in text
    iteration = int(text.split("stopped (Ctrl-C) at iteration ")[1].split()[0])
    assert iteration >= 3 and load_checkpoint(model_dir).iteration == iteration
