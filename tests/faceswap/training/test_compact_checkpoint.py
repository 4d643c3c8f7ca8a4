"""A compact checkpoint (float16 weights, no optimizer state) is much smaller and resumes training:
same weights to float16 precision, the iteration count carries on, a fresh optimizer. It is
written in parts that each stay under the repository's file limit (res96 included), read back
whole, refused clearly when a part is missing or from another save, and old single files load."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from faceswap.errors import CheckpointError
from faceswap.model.architecture import build_autoencoders, get_config
from faceswap.training.checkpoint import (Checkpoint, checkpoint_files, checkpoint_path, copy_checkpoint, is_part_path,
                                          load_checkpoint, network_arrays, read_checkpoint, read_meta,
                                          save_compact_checkpoint)
from faceswap.training.trainer import TrainSettings, Trainer, learning_rate_at


def _settings(iterations: int) -> TrainSettings:
    return TrainSettings(config="tiny", batch_size=4, learning_rate=1e-3, save_interval=3, preview_interval=3,
                         prefetch=0, preview_faces=2, iterations=iterations)


def test_compact_checkpoint_is_small_and_resumes(face_folders, tmp_path):
    side_a, side_b = face_folders
    full_dir = tmp_path / "full"
    Trainer([side_a], [side_b], full_dir, _settings(3), progress=False).run()
    full = load_checkpoint(full_dir)
    compact_path = save_compact_checkpoint(full, tmp_path / "compact.npz")
    assert compact_path.stat().st_size < 0.5 * full.path.stat().st_size

    resume_dir = tmp_path / "resumed"
    resume_dir.mkdir()
    shutil.copy(compact_path, resume_dir / "checkpoint.npz")
    compact = load_checkpoint(resume_dir)
    assert compact.compact and compact.iteration == 3
    assert not any(key.startswith("optimizer/") for key in compact.arrays)
    for key, value in full.arrays.items():
        if not key.startswith("optimizer/"):
            assert np.allclose(compact.arrays[key].astype(np.float32), value, atol=1e-3, rtol=1e-2), key

    result = Trainer([side_a], [side_b], resume_dir, _settings(5), progress=False).run()
    assert (result.start_iteration, result.iteration) == (3, 5)
    resumed = load_checkpoint(resume_dir)
    assert not resumed.compact and any(key.startswith("optimizer/") for key in resumed.arrays)


# ---- compact checkpoints in parts (each file under the repository's 20 MB limit) ----

REPOSITORY_FILE_LIMIT = 19_000_000  # what a committed file must stay under, with a margin to the 20 MB rule


@pytest.fixture(scope="module")
def trained_tiny(face_folders, tmp_path_factory):
    """A real tiny model trained 3 iterations: its full checkpoint (read from disk)."""
    side_a, side_b = face_folders
    model_dir = tmp_path_factory.mktemp("tiny") / "model"
    Trainer([side_a], [side_b], model_dir, _settings(3), progress=False).run()
    return load_checkpoint(model_dir)


def _assert_same_weights(saved, full) -> None:
    weights = {key for key in full.arrays if not key.startswith("optimizer/")}
    assert set(saved.arrays) == weights
    for key in weights:
        assert saved.arrays[key].shape == full.arrays[key].shape, key
        np.testing.assert_array_equal(saved.arrays[key], full.arrays[key].astype(np.float16), err_msg=key)


def test_a_compact_checkpoint_in_parts_reads_back_whole(trained_tiny, tmp_path):
    biggest = max(value.nbytes // 2 for value in trained_tiny.arrays.values())
    part_bytes = biggest // 3  # the biggest array is cut in pieces, the rest spread over many parts
    path = save_compact_checkpoint(trained_tiny, tmp_path / "compact.npz", part_bytes=part_bytes)
    files = checkpoint_files(path)
    assert files[0] == path and [f.name for f in files[1:3]] == ["compact.part2.npz", "compact.part3.npz"]
    assert sorted(tmp_path.iterdir()) == sorted(files)
    for file in files:  # deflate never grows a part beyond its raw bytes by more than the zip headers
        assert file.stat().st_size <= part_bytes + 4096, file
    meta = read_meta(path)
    assert meta["format_version"] == 2 and meta["parts"]["count"] == len(files) and meta["parts"]["chunked"]
    compact = read_checkpoint(path)
    assert compact.compact and compact.iteration == 3
    _assert_same_weights(compact, trained_tiny)


def test_a_checkpoint_that_fits_one_part_is_the_old_single_file(trained_tiny, tmp_path):
    path = save_compact_checkpoint(trained_tiny, tmp_path / "checkpoint.npz")
    assert list(tmp_path.iterdir()) == [path]
    with np.load(path) as data:  # what every earlier reader reads: format 1, no parts
        meta = json.loads(data["meta"].tobytes().decode("utf-8"))
    assert meta["format_version"] == 1 and "parts" not in meta
    _assert_same_weights(load_checkpoint(tmp_path), trained_tiny)


def test_an_old_single_file_compact_checkpoint_still_loads(trained_tiny, tmp_path):
    # written as the single-file writer of commit 6fee834 wrote models/default-training/checkpoint.npz
    weights = {key: value.astype(np.float16) for key, value in trained_tiny.arrays.items()
               if not key.startswith("optimizer/")}
    meta = {**trained_tiny.meta, "compact": True}
    np.savez_compressed(tmp_path / "checkpoint.npz", **weights,
                        meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8))
    old = load_checkpoint(tmp_path)
    assert old.compact and old.iteration == 3
    _assert_same_weights(old, trained_tiny)


def test_a_missing_part_is_a_clear_error(trained_tiny, tmp_path):
    path = save_compact_checkpoint(trained_tiny, tmp_path / "checkpoint.npz", part_bytes=40_000)
    count = len(checkpoint_files(path))
    (tmp_path / "checkpoint.part2.npz").unlink()
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path)
    message = str(error.value)
    assert f"checkpoint in {count} parts, but checkpoint.part2.npz is missing" in message
    assert "copy them together" in message and str(path) in message


def test_parts_of_two_different_saves_are_refused(trained_tiny, tmp_path):
    first = save_compact_checkpoint(trained_tiny, tmp_path / "one" / "checkpoint.npz", part_bytes=40_000)
    second = save_compact_checkpoint(trained_tiny, tmp_path / "two" / "checkpoint.npz", part_bytes=40_000)
    shutil.copy(second.with_name("checkpoint.part2.npz"), first.with_name("checkpoint.part2.npz"))
    with pytest.raises(CheckpointError, match="checkpoint.part2.npz belongs to another save"):
        read_checkpoint(first)


def test_a_new_save_replaces_the_whole_set_and_leaves_no_stale_part(trained_tiny, tmp_path):
    path = save_compact_checkpoint(trained_tiny, tmp_path / "checkpoint.npz", part_bytes=40_000)
    many = len(checkpoint_files(path))
    save_compact_checkpoint(trained_tiny, path, part_bytes=200_000)
    fewer = checkpoint_files(path)
    assert 1 < len(fewer) < many and sorted(tmp_path.iterdir()) == sorted(fewer)
    _assert_same_weights(read_checkpoint(path), trained_tiny)


def test_a_set_in_parts_is_copied_and_resumes_training(trained_tiny, face_folders, tmp_path):
    source = save_compact_checkpoint(trained_tiny, tmp_path / "snapshots" / "iteration-000003.npz",
                                     part_bytes=40_000)
    model_dir = tmp_path / "model"
    copied = copy_checkpoint(source, checkpoint_path(model_dir))
    assert [f.name for f in checkpoint_files(copied)][:2] == ["checkpoint.npz", "checkpoint.part2.npz"]
    assert len(checkpoint_files(copied)) == len(checkpoint_files(source))
    result = Trainer([face_folders[0]], [face_folders[1]], model_dir, _settings(5), progress=False).run()
    assert (result.start_iteration, result.iteration) == (3, 5)
    # the trainer's full checkpoint is one file: the compact parts it was resumed from are gone
    assert not any(is_part_path(p) for p in model_dir.iterdir())
    assert load_checkpoint(model_dir).iteration == 5


def test_res96_compact_parts_fit_the_repository_file_limit(tmp_path):
    config = get_config("res96")
    networks = build_autoencoders(config)
    arrays = network_arrays(networks)
    assert sum(value.nbytes for value in arrays.values()) / 2 > REPOSITORY_FILE_LIMIT  # one float16 file would not
    untrained = Checkpoint(tmp_path / "untrained", {"config": config.to_dict(), "iteration": 0,
                                                    "format_version": 1}, arrays)
    path = save_compact_checkpoint(untrained, tmp_path / "checkpoint.npz")
    files = checkpoint_files(path)
    assert len(files) >= 2
    for file in files:
        assert file.stat().st_size < REPOSITORY_FILE_LIMIT, (file, file.stat().st_size)
    restored = build_autoencoders(config)
    read_checkpoint(path).restore_networks(restored)
    for key, value in network_arrays(restored).items():
        np.testing.assert_array_equal(value, arrays[key].astype(np.float16).astype(np.float32), err_msg=key)


def test_fresh_adam_moments_ramp_the_learning_rate_up_again():
    settings = TrainSettings(learning_rate=1e-4, iterations=2000, warmup_iterations=100, decay_floor=0.2)
    scheduled = learning_rate_at(1000, settings)
    assert learning_rate_at(1000, settings, fresh_moments_from=1000) == pytest.approx(scheduled / 100)
    assert learning_rate_at(1049, settings, fresh_moments_from=1000) == pytest.approx(
        learning_rate_at(1049, settings) / 2)
    assert learning_rate_at(1100, settings, fresh_moments_from=1000) == learning_rate_at(1100, settings)
    # resumed inside the first warm-up: the lower of the two ramps
    assert learning_rate_at(60, settings, fresh_moments_from=50) == pytest.approx(1e-4 * 11 / 100)
    # no warm-up asked for: no ramp either
    flat = TrainSettings(learning_rate=1e-4, iterations=2000)
    assert learning_rate_at(1000, flat, fresh_moments_from=1000) == 1e-4


def test_a_run_resumed_from_a_compact_checkpoint_warms_up_again(trained_tiny, face_folders, tmp_path):
    side_a, side_b = face_folders
    settings = dict(config="tiny", batch_size=4, learning_rate=1e-3, warmup_iterations=2, save_interval=1,
                    preview_interval=100, prefetch=0, preview_faces=2)
    compact_dir, full_dir = tmp_path / "compact", tmp_path / "full"
    save_compact_checkpoint(trained_tiny, compact_dir / "checkpoint.npz")
    full_dir.mkdir()
    for name in checkpoint_files(trained_tiny.path):
        shutil.copy(name, full_dir / name.name)
    for model_dir in (compact_dir, full_dir):
        Trainer([side_a], [side_b], model_dir, TrainSettings(iterations=4, **settings), progress=False).run()
    compact_rate = load_checkpoint(compact_dir).meta["last_learning_rate"]
    full_rate = load_checkpoint(full_dir).meta["last_learning_rate"]
    assert full_rate == pytest.approx(1e-3)  # iteration 3, past the first warm-up, moments kept
    assert compact_rate == pytest.approx(1e-3 / 2)  # first of two warm-up iterations on fresh moments
