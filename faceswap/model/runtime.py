"""Serve an exported model directory (see faceswap/export): ``load_swap_model(dir) -> SwapModel``.

    model = load_swap_model("models/default")             # TFLite int8, ai-edge-litert
    model = load_swap_model("models/default", "savedmodel")  # TensorFlow SavedModel
    out = model.swap(faces, "a2b")   # faces: BGR float32 (N, S, S, 3) in [0, 1] -> same shape/range

``a2b`` = encoder -> decoder B: a face of identity A comes out as B. The model is loaded once;
``swap`` may be called from several threads (each TFLite interpreter has its own lock).

Everything wrong with the directory (no manifest, bad JSON, a listed file missing or of the wrong
size/checksum, a model file the runtime cannot load) raises ModelDirectoryError naming the file.
The TFLite backend does not import TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from faceswap.errors import FaceswapError, InputError, ModelDirectoryError
from faceswap.faces.alignment import FaceLayout
from faceswap.settings import setting, settings_from

logger = logging.getLogger(__name__)

BACKENDS = ("tflite", "savedmodel")
DIRECTIONS = ("a2b", "b2a")
MANIFEST_NAME = "manifest.json"
SAVED_MODEL_DIR = "saved_model"
ENV_PREFIX = "FACESWAP_RUNTIME_"


@dataclass
class RuntimeSettings:
    """How the exported model runs (environment: FACESWAP_RUNTIME_NUM_THREADS ...)."""

    num_threads: int = setting(2, "TFLite interpreter threads per swap call")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file (the checksums of manifest.json)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The parsed, checked manifest.json of ``model_dir``; ModelDirectoryError naming what is wrong."""
    if not model_dir.is_dir():
        raise ModelDirectoryError(f"{model_dir}: no such model directory")
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        raise ModelDirectoryError(f"{path}: missing; {model_dir} is not an exported model "
                                  f"(make one with `python -m faceswap export`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelDirectoryError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise ModelDirectoryError(f"{path}: not a JSON object")
    try:
        size = int(manifest["input_size"])
        layout = manifest["layout"]
        FaceLayout(int(layout["size"]), float(layout["padding_ratio"]))
        directions = manifest["directions"]
        for direction in DIRECTIONS:
            name = str(directions[direction]["tflite"])
            if "/" in name or "\\" in name or name.startswith("."):
                raise ValueError(f"'{name}' is not a file name inside the model directory")
            str(directions[direction]["savedmodel_signature"])
        files = manifest["files"]
        for entry in files:
            str(entry["path"]), int(entry["bytes"]), str(entry["sha256"])
            _check_relative_path(entry["path"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelDirectoryError(f"{path}: incomplete manifest (missing or bad field {error})") from None
    if size < 8 or int(layout["size"]) != size:
        raise ModelDirectoryError(f"{path}: input_size {size} does not match layout size {layout['size']}")
    return manifest


def _check_relative_path(name: Any) -> None:
    """ValueError unless ``name`` is a relative POSIX path that stays inside its folder (no absolute
    path, drive, backslash or ``..`` part): a manifest never names files outside its directory."""
    if not isinstance(name, str) or not name or "\\" in name or ":" in name:
        raise ValueError(f"'{name}' is not a relative path inside the model directory")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or not parts or any(part in ("..", "") for part in parts):
        raise ValueError(f"'{name}' is not a relative path inside the model directory")


def confined_path(model_dir: Path, name: str) -> Path:
    """``model_dir / name`` after checking that it stays inside ``model_dir`` once symbolic links are
    resolved; ModelDirectoryError otherwise (issue 12: manifest paths are never followed outside)."""
    try:
        _check_relative_path(name)
    except ValueError as error:
        raise ModelDirectoryError(f"{model_dir / MANIFEST_NAME}: {error}") from None
    path = model_dir / name
    if not path.resolve().is_relative_to(model_dir.resolve()):
        raise ModelDirectoryError(f"{path}: leads outside {model_dir} (symbolic link); refused")
    return path


def check_files(model_dir: Path, manifest: dict[str, Any], checksum_prefixes: tuple[str, ...]) -> None:
    """Every listed file must exist with its size; files under ``checksum_prefixes`` also with their sha256.
    Every path must stay inside ``model_dir`` (ModelDirectoryError before anything is read)."""
    paths = [confined_path(model_dir, entry["path"]) for entry in manifest["files"]]
    for entry, path in zip(manifest["files"], paths):
        if not path.is_file():
            raise ModelDirectoryError(f"{path}: missing (listed in {model_dir / MANIFEST_NAME})")
        size = path.stat().st_size
        if size != int(entry["bytes"]):
            raise ModelDirectoryError(f"{path}: corrupt ({size} bytes, the manifest says {entry['bytes']})")
        if entry["path"].startswith(checksum_prefixes) and file_sha256(path) != entry["sha256"]:
            raise ModelDirectoryError(f"{path}: corrupt (sha256 does not match the manifest)")


class TFLiteSwap:
    """One swap direction served by a TFLite interpreter: ``run(faces (N,S,S,3) float32) -> same``,
    serialised by a lock; the input is resized when N changes."""

    def __init__(self, path: Path, size: int, num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=max(1, num_threads))
            self.interpreter.allocate_tensors()
            inputs = self.interpreter.get_input_details()
            outputs = self.interpreter.get_output_details()
        except (ValueError, RuntimeError) as error:
            raise ModelDirectoryError(f"{path}: corrupt TFLite model ({str(error).splitlines()[0]})") from None
        if len(inputs) != 1 or len(outputs) != 1 or tuple(inputs[0]["shape"][1:]) != (size, size, 3):
            raise ModelDirectoryError(f"{path}: not a face-swap model of {size}x{size}x3 faces "
                                      f"(inputs {[tuple(i['shape']) for i in inputs]})")
        self.path = path
        self.input_index = inputs[0]["index"]
        self.output_index = outputs[0]["index"]
        self.batch = int(inputs[0]["shape"][0])
        self.lock = threading.Lock()

    def run(self, faces: np.ndarray) -> np.ndarray:
        with self.lock:
            if faces.shape[0] != self.batch:
                self.interpreter.resize_tensor_input(self.input_index, list(faces.shape), strict=True)
                self.interpreter.allocate_tensors()
                self.batch = faces.shape[0]
            self.interpreter.set_tensor(self.input_index, faces)
            self.interpreter.invoke()
            return np.array(self.interpreter.get_tensor(self.output_index), copy=True)


class _SavedModelSwap:
    """One direction served by a SavedModel signature (TensorFlow calls are thread-safe)."""

    def __init__(self, loaded, signature: str, path: Path) -> None:
        self.loaded = loaded  # keeps the SavedModel's variables alive
        try:
            self.function = loaded.signatures[signature]
        except KeyError:
            raise ModelDirectoryError(f"{path}: has no signature {signature!r} "
                                      f"(it has {sorted(loaded.signatures)})") from None

    def run(self, faces: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        outputs = self.function(faces=tf.constant(faces))
        return np.asarray(next(iter(outputs.values())))


class SwapModel:
    """A loaded exported model. ``input_size`` S, ``layout`` (FaceLayout of the crops it expects),
    ``manifest`` (dict), ``backend`` ('tflite' or 'savedmodel')."""

    def __init__(self, model_dir: Path, manifest: dict[str, Any], backend: str, runners: dict[str, Any]) -> None:
        self.model_dir = model_dir
        self.manifest = manifest
        self.backend = backend
        self.input_size = int(manifest["input_size"])
        self.layout = FaceLayout(int(manifest["layout"]["size"]), float(manifest["layout"]["padding_ratio"]))
        self._runners = runners

    def swap(self, faces: np.ndarray, direction: str) -> np.ndarray:
        """faces BGR float32 (N, S, S, 3) in [0, 1] -> the other identity's faces, same shape, [0, 1].

        InputError for an unknown direction or faces of the wrong shape.
        """
        if direction not in self._runners:
            raise InputError(f"direction must be 'a2b' or 'b2a', not {direction!r}")
        faces = np.asarray(faces)
        size = self.input_size
        if faces.ndim != 4 or faces.shape[1:] != (size, size, 3):
            raise InputError(f"faces must be an (N, {size}, {size}, 3) array, not {faces.shape}")
        if faces.shape[0] == 0:
            return np.zeros_like(faces, dtype=np.float32)
        faces = np.ascontiguousarray(faces, dtype=np.float32)
        return np.clip(self._runners[direction].run(faces), 0.0, 1.0)

    def __repr__(self) -> str:
        return (f"SwapModel({self.model_dir}, backend={self.backend}, config={self.manifest.get('config')}, "
                f"input_size={self.input_size}, iterations={self.manifest.get('iterations')})")


def load_swap_model(model_dir: str | Path, backend: str = "tflite", settings: RuntimeSettings | None = None,
                    verify_files: bool = True) -> SwapModel:
    """Load an exported model directory; see the module docstring.

    backend: 'tflite' (int8 weights, ai-edge-litert) or 'savedmodel' (float32, TensorFlow).
    verify_files: check every listed file's presence and size, and the sha256 of the files the
    backend loads.
    """
    if backend not in BACKENDS:
        raise FaceswapError(f"model backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    settings = settings or settings_from(RuntimeSettings, env_prefix=ENV_PREFIX)
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    directions = manifest["directions"]
    size = int(manifest["input_size"])
    if backend == "tflite":
        files = tuple(directions[d]["tflite"] for d in DIRECTIONS)
    else:
        files = (SAVED_MODEL_DIR + "/",)
    if verify_files:
        check_files(model_dir, manifest, files)
    runners: dict[str, Any] = {}
    if backend == "tflite":
        for direction in DIRECTIONS:
            path = confined_path(model_dir, directions[direction]["tflite"])
            if not path.is_file():
                raise ModelDirectoryError(f"{path}: missing (the {direction} TFLite model)")
            runners[direction] = TFLiteSwap(path, size, settings.num_threads)
    else:
        path = model_dir / SAVED_MODEL_DIR
        if not (path / "saved_model.pb").is_file():
            raise ModelDirectoryError(f"{path / 'saved_model.pb'}: missing (the SavedModel)")
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as error:  # TensorFlow raises many kinds for a damaged SavedModel
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelDirectoryError(f"{path}: corrupt SavedModel ({first_line})") from None
        runners = {direction: _SavedModelSwap(loaded, directions[direction]["savedmodel_signature"], path)
                   for direction in DIRECTIONS}
    model = SwapModel(model_dir, manifest, backend, runners)
    logger.info("loaded %r", model)
    return model
