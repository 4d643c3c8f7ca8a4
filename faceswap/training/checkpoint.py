"""Training checkpoints: one ``checkpoint.npz`` per model directory, written atomically.

The file holds every weight of the encoder and both decoders, the optimizer's state (Adam
moments, iteration counter) and a JSON ``meta`` record (model config, iteration, seed, batch
size, training time, the sides' data). Data order and augmentation are a pure function of
(seed, iteration) (see dataset.py), so weights + optimizer + meta are all a resumed run needs
to continue exactly where the saved one stopped.

A *compact* checkpoint (``save_compact_checkpoint``) keeps only the weights, as float16, and
the meta record: about a sixth of the size, small enough to live in the repository so that a
later run on another machine resumes the model instead of starting over. Resuming from it
restores the weights and starts the optimizer's moments afresh (Adam re-estimates them within a
few hundred iterations); the iteration count and seed carry on.

Writing goes to a temporary file in the same folder, is flushed to disk, then renamed over the
old checkpoint: a run killed in the middle of a save leaves the last good checkpoint intact.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from faceswap.errors import CheckpointError
from faceswap.model.architecture import Autoencoders, ModelConfig

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.npz"
FORMAT_VERSION = 1


def checkpoint_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / CHECKPOINT_NAME


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write_bytes(path: Path, writer) -> None:
    """Call ``writer(file)`` on a temporary file next to ``path``, fsync, then rename it to ``path``."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    _fsync_directory(path.parent)


def _optimizer_state_variables(optimizer) -> list:
    """The optimizer variables a checkpoint keeps (everything but the learning rate, a setting)."""
    return [v for v in optimizer.variables if not v.path.endswith("learning_rate")]


def save_checkpoint(model_dir: str | Path, networks: Autoencoders, optimizer, meta: dict[str, Any]) -> Path:
    """Write ``checkpoint.npz`` atomically; ``meta`` must be JSON-able. Returns the path."""
    path = checkpoint_path(model_dir)
    arrays: dict[str, np.ndarray] = {}
    for name, network in networks.networks().items():
        for variable in network.weights:
            arrays[f"{name}/{variable.path}"] = np.asarray(variable.numpy())
    for index, variable in enumerate(_optimizer_state_variables(optimizer)):
        arrays[f"optimizer/{index:05d}"] = np.asarray(variable.numpy())
    meta = {**meta, "format_version": FORMAT_VERSION, "config": networks.config.to_dict()}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    atomic_write_bytes(path, lambda handle: np.savez(handle, **arrays))
    logger.debug("saved %s at iteration %s", path, meta.get("iteration"))
    return path


def save_compact_checkpoint(checkpoint: "Checkpoint", path: str | Path) -> Path:
    """Write ``checkpoint``'s weights as float16 without optimizer state to ``path`` (atomic).

    The file is a checkpoint like any other (copy it to ``<model dir>/checkpoint.npz`` to resume);
    its meta has ``"compact": true``. Raises CheckpointError if the checkpoint holds no weights."""
    path = Path(path)
    weights = {key: value.astype(np.float16) if value.dtype == np.float32 else value
               for key, value in checkpoint.arrays.items() if not key.startswith("optimizer/")}
    if not weights:
        raise CheckpointError(f"{checkpoint.path}: holds no weights to compact")
    meta = {**checkpoint.meta, "compact": True}
    weights["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda handle: np.savez_compressed(handle, **weights))
    return path


class Checkpoint:
    """A checkpoint read from disk: ``meta`` (dict), ``config`` (ModelConfig) and the arrays."""

    def __init__(self, path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.path = path
        self.meta = meta
        self.arrays = arrays
        try:
            self.config = ModelConfig.from_dict(meta["config"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{path}: corrupt checkpoint (bad model config: {error})") from None

    @property
    def iteration(self) -> int:
        return int(self.meta.get("iteration", 0))

    def check_config(self, config: ModelConfig) -> None:
        """CheckpointError unless the checkpoint was made for exactly ``config``."""
        if self.config != config:
            if self.config.name != config.name:
                what = f"config {self.config.name!r}, not {config.name!r}"
            else:
                what = f"a different {config.name!r} config ({self.config.to_dict()})"
            raise CheckpointError(f"{self.path}: this checkpoint was trained with {what}; use "
                                  f"--config {self.config.name} to continue it, or another --model-dir")

    def restore_networks(self, networks: Autoencoders) -> None:
        """Load the weights into ``networks`` (same config); CheckpointError if any is missing/misshaped."""
        self.check_config(networks.config)
        for name, network in networks.networks().items():
            for variable in network.weights:
                key = f"{name}/{variable.path}"
                if key not in self.arrays:
                    raise CheckpointError(f"{self.path}: corrupt checkpoint (no weights for {key})")
                value = self.arrays[key]
                if tuple(value.shape) != tuple(variable.shape):
                    raise CheckpointError(f"{self.path}: corrupt checkpoint ({key} has shape {value.shape}, "
                                          f"expected {tuple(variable.shape)})")
                variable.assign(value.astype(np.float32) if value.dtype == np.float16 else value)

    @property
    def compact(self) -> bool:
        """True for a weights-only (float16) checkpoint, see ``save_compact_checkpoint``."""
        return bool(self.meta.get("compact")) and not any(k.startswith("optimizer/") for k in self.arrays)

    def restore_optimizer(self, optimizer, trainable_variables: list) -> None:
        """Build ``optimizer`` for ``trainable_variables`` and load its saved state."""
        optimizer.build(trainable_variables)
        if self.compact:
            logger.warning("%s is a compact checkpoint (weights only): the optimizer state starts afresh "
                           "at iteration %d", self.path, self.iteration)
            return
        variables = _optimizer_state_variables(optimizer)
        saved = sorted(key for key in self.arrays if key.startswith("optimizer/"))
        if len(saved) != len(variables):
            raise CheckpointError(f"{self.path}: corrupt checkpoint (optimizer state has {len(saved)} "
                                  f"variables, expected {len(variables)})")
        for key, variable in zip(saved, variables):
            value = self.arrays[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise CheckpointError(f"{self.path}: corrupt checkpoint (optimizer variable {variable.path} "
                                      f"has shape {value.shape}, expected {tuple(variable.shape)})")
            variable.assign(value)


def load_checkpoint(model_dir: str | Path) -> Checkpoint | None:
    """The checkpoint in ``model_dir``, None if there is none; CheckpointError if it is unreadable."""
    path = checkpoint_path(model_dir)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("meta is not a JSON object")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: corrupt checkpoint, cannot be read ({error})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format_version')!r} is not "
                              f"{FORMAT_VERSION}; it was written by another version of faceswap")
    return Checkpoint(path, meta, arrays)
