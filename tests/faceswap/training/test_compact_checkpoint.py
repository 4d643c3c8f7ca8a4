"""A compact checkpoint (float16 weights, no optimizer state) is much smaller and resumes training:
same weights to float16 precision, the iteration count carries on, a fresh optimizer."""

from __future__ import annotations

import shutil

import numpy as np

from faceswap.training.checkpoint import load_checkpoint, save_compact_checkpoint
from faceswap.training.trainer import TrainSettings, Trainer


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
