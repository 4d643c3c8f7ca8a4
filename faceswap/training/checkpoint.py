"""Training checkpoints: ``checkpoint.npz`` per model directory (plus parts), written atomically.

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

**Parts.** The repository keeps no file over 20 MB, and `res96`'s compact checkpoint is 24.5 MB,
so a compact checkpoint is written in parts of at most ``part_bytes`` (15 MB by default) of raw
array data each — a deflated part is never bigger than its raw data plus a few hundred bytes:

- ``<name>.npz`` (e.g. ``checkpoint.npz``) holds ``meta`` and as many arrays as fit; it is the
  one path every reader is given. Its meta names the set: ``"parts": {"count": n, "set": id,
  "chunked": {...}}`` (``format_version`` 2);
- ``<stem>.part2.npz`` ... ``<stem>.part<n>.npz`` (e.g. ``checkpoint.part2.npz``) hold the other
  arrays and a ``part`` member (JSON: the same ``set`` id, the part's index, ``n``);
- an array larger than a part (none in `res96`: its largest is 9.4 MB in float16) is stored
  flattened in pieces ``<key>@0``, ``<key>@1`` ... and put back together by the reader
  (``chunked`` gives its shape and piece count).

Arrays go to parts largest first, each into the first part with room (first-fit decreasing), so
the set is a pure function of the weights' shapes. A checkpoint that fits one part is a single file
exactly as before (``format_version`` 1, no ``parts``), and every reader still reads those.

Writing goes to a temporary file in the same folder, is flushed to disk, then renamed over the
old file: a run killed in the middle of a save leaves the last good checkpoint intact. A set is
written parts first, ``<name>.npz`` last, then parts of an older, larger set are removed. A reader
reads ``<name>.npz`` and then the parts it names and checks that each carries the same set id;
one caught between two saves sees another id (or a part missing), reads again after a moment
and raises CheckpointError if the set still does not hold together, so nobody ever gets the
weights of two different saves. ``copy_checkpoint`` copies a set (parts renamed to the
destination's name) the same way; ``checkpoint_files`` lists the files of one.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import re
import shutil
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from faceswap.errors import CheckpointError
from faceswap.model.architecture import Autoencoders, ModelConfig

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.npz"
FORMAT_VERSION = 1          # written for a checkpoint in one file (readable by every version)
PARTS_FORMAT_VERSION = 2    # written for a checkpoint in parts
READABLE_VERSIONS = (FORMAT_VERSION, PARTS_FORMAT_VERSION)
PART_BYTES = 15_000_000     # most raw array bytes per compact part (the repository's file limit is 20 MB)
READ_ATTEMPTS = 4           # reads of a set caught between two saves before giving up
_PART_SUFFIX = re.compile(r"\.part(\d+)\.npz$")


def checkpoint_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / CHECKPOINT_NAME


def part_path(path: str | Path, index: int) -> Path:
    """The file of part ``index`` (2, 3, ...) of the checkpoint ``path``: ``<stem>.part<index>.npz``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.part{index}.npz")


def is_part_path(path: str | Path) -> bool:
    """True for a part file (``*.part<N>.npz``), which is no checkpoint on its own."""
    return bool(_PART_SUFFIX.search(Path(path).name))


def _existing_parts(path: Path) -> dict[int, Path]:
    """Part files of ``path`` on disk now, by index."""
    found = {}
    for candidate in path.parent.glob(f"{glob.escape(path.stem)}.part*.npz"):
        match = _PART_SUFFIX.search(candidate.name)
        if match and candidate.name == part_path(path, int(match.group(1))).name:
            found[int(match.group(1))] = candidate
    return found


def _remove_parts_beyond(path: Path, count: int) -> None:
    """Delete part files of ``path`` whose index is above ``count`` (left by an older, larger set)."""
    for index, stale in _existing_parts(path).items():
        if index > count:
            stale.unlink(missing_ok=True)


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


NETWORK_NAMES = ("encoder", "decoder_a", "decoder_b")  # Autoencoders.networks()' keys


def _optimizer_state_variables(optimizer) -> list:
    """The optimizer variables a checkpoint keeps (everything but the learning rate, a setting)."""
    return [v for v in optimizer.variables if not v.path.endswith("learning_rate")]


def named_arrays(parts: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every weight of ``parts`` ({name: Keras model or layer}) as ``{"<name>/<variable path>": array}``
    (float32, the variables' shapes): the keys a checkpoint stores them under."""
    return {f"{name}/{variable.path}": np.asarray(variable.numpy())
            for name, part in parts.items() for variable in part.weights}


def network_arrays(networks: Autoencoders) -> dict[str, np.ndarray]:
    """``named_arrays`` of the encoder and both decoders."""
    return named_arrays(networks.networks())


def _json_array(record: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(record).encode("utf-8"), dtype=np.uint8)


def _json_record(array: np.ndarray) -> dict:
    record = json.loads(array.tobytes().decode("utf-8"))
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def save_checkpoint(model_dir: str | Path, networks: Autoencoders, optimizer, meta: dict[str, Any],
                    extras: dict[str, Any] | None = None) -> Path:
    """Write ``checkpoint.npz`` atomically (one file); ``meta`` must be JSON-able. Returns the path.
    ``extras`` ({name: Keras layer}) are training-only parts saved beside the networks (their
    optimizer state follows the networks', in ``extras``' order; the meta's ``optimizer_groups``
    records the layout). Part files left in the directory by a compact checkpoint it was resumed
    from are removed."""
    path = checkpoint_path(model_dir)
    extras = extras or {}
    arrays = {**network_arrays(networks), **named_arrays(extras)}
    for index, variable in enumerate(_optimizer_state_variables(optimizer)):
        arrays[f"optimizer/{index:05d}"] = np.asarray(variable.numpy())
    groups = [("networks", sum(len(part.trainable_variables) for part in networks.networks().values())),
              *((name, len(part.trainable_variables)) for name, part in extras.items())]
    meta = {**meta, "format_version": FORMAT_VERSION, "config": networks.config.to_dict(),
            "optimizer_groups": [list(group) for group in groups]}
    arrays["meta"] = _json_array(meta)
    atomic_write_bytes(path, lambda handle: np.savez(handle, **arrays))
    _remove_parts_beyond(path, 1)
    logger.debug("saved %s at iteration %s", path, meta.get("iteration"))
    return path


def _pack(arrays: dict[str, np.ndarray], part_bytes: int) -> tuple[list[dict[str, np.ndarray]], dict]:
    """Group ``arrays`` into parts of at most ``part_bytes`` raw bytes (first-fit decreasing); an
    array bigger than a part is cut into flattened pieces ``<key>@<i>``. Returns (parts, chunked)."""
    items: list[tuple[str, np.ndarray]] = []
    chunked: dict[str, dict] = {}
    for key, value in arrays.items():
        if value.nbytes > part_bytes:
            count = math.ceil(value.nbytes / part_bytes)
            chunked[key] = {"shape": list(value.shape), "count": count}
            items.extend((f"{key}@{i}", piece) for i, piece in enumerate(np.array_split(value.reshape(-1), count)))
        else:
            items.append((key, value))
    parts: list[dict[str, np.ndarray]] = []
    room: list[int] = []
    for key, value in sorted(items, key=lambda item: (-item[1].nbytes, item[0])):
        index = next((i for i, free in enumerate(room) if value.nbytes <= free), None)
        if index is None:
            parts.append({})
            room.append(part_bytes)
            index = len(parts) - 1
        parts[index][key] = value
        room[index] -= value.nbytes
    return parts or [{}], chunked


def save_compact_checkpoint(checkpoint: "Checkpoint", path: str | Path, part_bytes: int = PART_BYTES) -> Path:
    """Write ``checkpoint``'s weights as float16 without optimizer state to ``path`` (atomic), in
    parts of at most ``part_bytes`` raw bytes each (module docstring); returns ``path``.

    The set is a checkpoint like any other: ``copy_checkpoint(path, <model dir>/checkpoint.npz)`` to
    resume; its meta has ``"compact": true``. Raises CheckpointError if the checkpoint holds no
    weights, ValueError for a ``part_bytes`` under 1."""
    if part_bytes < 1:
        raise ValueError(f"part_bytes must be at least 1, not {part_bytes}")
    path = Path(path)
    weights = {key: value.astype(np.float16) if value.dtype == np.float32 else value
               for key, value in checkpoint.arrays.items() if not key.startswith("optimizer/")}
    if not weights:
        raise CheckpointError(f"{checkpoint.path}: holds no weights to compact")
    meta = {**checkpoint.meta, "compact": True, "format_version": FORMAT_VERSION}
    meta.pop("parts", None)
    parts, chunked = _pack(weights, part_bytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(parts) > 1 or chunked:
        set_id = uuid.uuid4().hex
        meta.update(format_version=PARTS_FORMAT_VERSION, parts={"count": len(parts), "set": set_id, "chunked": chunked})
        for index, arrays in enumerate(parts[1:], start=2):
            record = _json_array({"set": set_id, "index": index, "count": len(parts)})
            atomic_write_bytes(part_path(path, index),
                               lambda handle, arrays=arrays, record=record: np.savez_compressed(handle, **arrays,
                                                                                                part=record))
    atomic_write_bytes(path, lambda handle: np.savez_compressed(handle, **parts[0], meta=_json_array(meta)))
    _remove_parts_beyond(path, len(parts))
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
        self._restore_parts(networks.networks())

    def _restore_parts(self, parts: dict[str, Any]) -> None:
        """Assign every weight of ``parts`` ({name: Keras model or layer}) from its ``named_arrays``
        key (float16 widened to float32); CheckpointError if one is missing or misshaped."""
        for name, part in parts.items():
            for variable in part.weights:
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

    def extra_count(self, name: str) -> int:
        """How many weights of the training-only part ``name`` the checkpoint holds (0: none)."""
        return sum(key.startswith(f"{name}/") for key in self.arrays)

    def restore_extra(self, name: str, layer) -> bool:
        """Load the training-only part ``name`` (see ``save_checkpoint``'s ``extras``) into ``layer``;
        False (``layer`` untouched) if the checkpoint has none, CheckpointError if it is misshaped."""
        if not self.extra_count(name):
            return False
        self._restore_parts({name: layer})
        return True

    def optimizer_groups(self) -> list[tuple[str, int]]:
        """The saved optimizer state's layout: ``[(name, variables)]`` in its order, ``networks``
        first, then the training-only parts (``save_checkpoint``'s ``extras``). From the meta's
        ``optimizer_groups``; for a checkpoint saved before it was recorded, the parts' weight counts
        in the order they were stored and the networks the rest. [] for a compact checkpoint."""
        slots = sum(key.startswith("optimizer/") for key in self.arrays)
        if not slots:
            return []
        if "optimizer_groups" in self.meta:
            return [(str(name), int(count)) for name, count in self.meta["optimizer_groups"]]
        extras: dict[str, int] = {}
        for key in self.arrays:
            name = key.split("/", 1)[0]
            if "/" in key and name not in NETWORK_NAMES and name != "optimizer":
                extras[name] = extras.get(name, 0) + 1
        return [("networks", (slots - 1) // 2 - sum(extras.values())), *extras.items()]

    def restore_optimizer(self, optimizer, groups: dict[str, list]) -> None:
        """Build ``optimizer`` for the variables of ``groups`` ({name: trainable variables}, in the
        optimizer's order: ``networks`` first, then the training-only parts) and load its saved
        state (Adam: the iteration count, then a (momentum, velocity) pair per variable). A group
        the checkpoint has no state for (a part switched on since) starts with zero moments; saved
        state of a part this run does not train is skipped. CheckpointError if the state does not
        match its layout or the networks' state is missing."""
        variables = [variable for part in groups.values() for variable in part]
        optimizer.build(variables)
        if self.compact:
            logger.warning("%s is a compact checkpoint (weights only): the optimizer state starts afresh "
                           "at iteration %d", self.path, self.iteration)
            return
        state = _optimizer_state_variables(optimizer)
        saved = sorted(key for key in self.arrays if key.startswith("optimizer/"))
        layout = self.optimizer_groups()
        if len(saved) != 1 + 2 * sum(count for _, count in layout) or any(count < 0 for _, count in layout):
            raise CheckpointError(f"{self.path}: corrupt checkpoint (optimizer state has {len(saved)} "
                                  f"variables, not the {layout} its layout says)")
        starts, offset = {}, 1
        for name, count in layout:
            starts[name] = (offset, count)
            offset += 2 * count
        pairs = [(saved[0], state[0])]  # the iteration count
        offset = 1
        for name, part in groups.items():
            if name in starts and starts[name][1] == len(part):
                first = starts[name][0]
                pairs.extend(zip(saved[first:first + 2 * len(part)], state[offset:offset + 2 * len(part)]))
            elif name == "networks":
                raise CheckpointError(f"{self.path}: corrupt checkpoint (optimizer state for "
                                      f"{starts.get(name, (0, 0))[1]} network variables, expected {len(part)})")
            offset += 2 * len(part)
        for key, variable in pairs:
            value = self.arrays[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise CheckpointError(f"{self.path}: corrupt checkpoint (optimizer variable {variable.path} "
                                      f"has shape {value.shape}, expected {tuple(variable.shape)})")
            variable.assign(value)


_READ_ERRORS = (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError)


class _TornSet(Exception):
    """The parts on disk do not belong to the ``checkpoint.npz`` just read (a save in between, or one missing)."""


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def read_meta(path: str | Path) -> dict[str, Any]:
    """The meta record of the checkpoint file ``path`` (reads only that member; for a set, the first
    file's). CheckpointError if the file is missing or unreadable."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return _json_record(data["meta"])
    except _READ_ERRORS as error:
        raise CheckpointError(f"{path}: corrupt checkpoint, cannot be read ({error})") from None


def _read_parts(path: Path, parts: dict, arrays: dict[str, np.ndarray]) -> None:
    """Add the arrays of parts 2..count of the set ``parts`` (meta["parts"]) to ``arrays``."""
    for index in range(2, int(parts["count"]) + 1):
        part = part_path(path, index)
        try:
            loaded = _read_npz(part)
            record = _json_record(loaded.pop("part"))
        except FileNotFoundError:
            raise _TornSet(f"{part.name} is missing") from None
        except _READ_ERRORS as error:
            raise CheckpointError(f"{part}: corrupt checkpoint part, cannot be read ({error})") from None
        if record.get("set") != parts["set"] or record.get("index") != index:
            raise _TornSet(f"{part.name} belongs to another save of the checkpoint")
        arrays.update(loaded)
    for key, shape_count in parts.get("chunked", {}).items():
        pieces = [arrays.pop(f"{key}@{i}", None) for i in range(int(shape_count["count"]))]
        if any(piece is None for piece in pieces):
            raise CheckpointError(f"{path}: corrupt checkpoint (pieces of {key} are missing)")
        arrays[key] = np.concatenate(pieces).reshape(shape_count["shape"])


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint whose (first) file is ``path``, with all its parts (module docstring).

    Returns a Checkpoint whose arrays keep their stored dtypes (float16 in a compact one).
    Raises CheckpointError, naming the file, when ``path`` is missing or unreadable, when a part is
    missing or unreadable ("copy every part"), when the parts belong to different saves even after
    ``READ_ATTEMPTS`` reads, or when the format is not one this version reads."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    for attempt in range(READ_ATTEMPTS):
        try:
            arrays = _read_npz(path)
            meta = _json_record(arrays.pop("meta"))
        except _READ_ERRORS as error:
            raise CheckpointError(f"{path}: corrupt checkpoint, cannot be read ({error})") from None
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise CheckpointError(f"{path}: checkpoint format {meta.get('format_version')!r} is not one of "
                                  f"{READABLE_VERSIONS}; it was written by another version of faceswap")
        parts = meta.get("parts")
        if not parts:
            break
        try:
            _read_parts(path, parts, arrays)
            break
        except _TornSet as torn:
            if attempt == READ_ATTEMPTS - 1:
                names = ", ".join(part_path(path, i).name for i in range(2, int(parts["count"]) + 1))
                raise CheckpointError(f"{path}: checkpoint in {parts['count']} parts, but {torn}; a checkpoint "
                                      f"is {path.name} with all of its parts ({names}): copy them together "
                                      "(copy_checkpoint)") from None
            time.sleep(0.1 * 2 ** attempt)  # a save may be replacing the set right now
    return Checkpoint(path, meta, arrays)


def load_checkpoint(model_dir: str | Path) -> Checkpoint | None:
    """The checkpoint in ``model_dir`` (``checkpoint.npz`` and its parts), None if there is none;
    CheckpointError if it is unreadable or incomplete (see ``read_checkpoint``)."""
    path = checkpoint_path(model_dir)
    if not path.exists():
        return None
    return read_checkpoint(path)


def checkpoint_files(path: str | Path) -> list[Path]:
    """The files of the checkpoint ``path``: itself, then its parts in order (as its meta names them).
    CheckpointError if ``path`` is unreadable."""
    path = Path(path)
    parts = read_meta(path).get("parts") or {}
    return [path, *(part_path(path, index) for index in range(2, int(parts.get("count", 1)) + 1))]


def copy_checkpoint(source: str | Path, destination: str | Path) -> Path:
    """Copy the checkpoint ``source`` (with its parts) to ``destination`` (e.g. ``<model dir>/checkpoint.npz``;
    parts are renamed to go with it), atomically as a save is: parts first, the first file last, then
    stale parts of ``destination`` removed. The copy is checked by reading it back. Returns
    ``destination``; CheckpointError if the source is missing, unreadable or incomplete."""
    source, destination = Path(source), Path(destination)
    files = checkpoint_files(source)
    for index, part in enumerate(files[1:], start=2):
        if not part.is_file():
            read_checkpoint(source)  # raises the clear "part missing" error
        destination.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(part_path(destination, index),
                           lambda handle, part=part: _copy_into(part, handle))
    destination.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(destination, lambda handle: _copy_into(source, handle))
    _remove_parts_beyond(destination, len(files))
    read_checkpoint(destination)
    return destination


def _copy_into(path: Path, handle) -> None:
    with open(path, "rb") as source:
        shutil.copyfileobj(source, handle)
