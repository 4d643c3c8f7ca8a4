"""Export a trained model (a training ``checkpoint.npz``) into a directory for serving.

The export directory holds:

- ``saved_model/``: a TensorFlow SavedModel with two signatures, ``a2b`` (encoder -> decoder B) and
  ``b2a`` (encoder -> decoder A); input ``faces`` and output ``faces``: BGR float32 (N, S, S, 3) in [0, 1];
- ``swap_a2b.tflite`` and ``swap_b2a.tflite``: the same two paths as TFLite models, served with
  ai-edge-litert: by default with dynamic-range int8 weights (activations stay float; XNNPACK runs
  them with int8 arithmetic, quantizing activations on the fly); ``ExportSettings.quantization``
  (``--quantization``) chooses full-integer int8 (calibrated on training faces), float16 or float32
  instead (docs/performance.md compares their cost and parity);
- ``manifest.json``: model config, input size and FaceLayout, training iterations and time, the
  sides' data, the code shift (``ExportSettings.code_shift``, ``--code-shift``: a2b codes moved
  towards side B's, faceswap/model/code_shift.py; ``{"strength": 0.0}`` when off), creation
  date, a Keras-vs-TFLite parity measurement, and every file with its size and sha256 (the
  runtime checks them).

``ExportSettings.tflite_only`` (``--tflite-only``) leaves the SavedModel out once the TFLite models
are converted and checked: the small copy that the repository bundles as ``models/default`` (the
``savedmodel`` backend then needs a full export from the training checkpoint).

The directory is built under a temporary name next to the output and renamed into place at the
end, so a failed export never leaves a half-written model where a server would look for one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from faceswap.errors import CheckpointError, FaceswapError
from faceswap.model.architecture import DIRECTIONS, Autoencoders, build_autoencoders
from faceswap.model.code_shift import SHIFTED_DIRECTION, CodeMap, code_map as map_of, code_shift as shift_of
from faceswap.model.runtime import SAVED_MODEL_DIR, file_sha256
from faceswap.settings import setting
from faceswap.training.checkpoint import load_checkpoint

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "faceswap-exported-model"
MANIFEST_VERSION = 1


def tflite_name(direction: str) -> str:
    return f"swap_{direction}.tflite"


# TFLite variants of the swap model (ExportSettings.quantization); all take and give float32 faces.
QUANTIZATIONS = {
    "dynamic": "dynamic-range int8 weights, float activations",
    "int8": "full-integer int8 weights and activations (calibrated on training faces), float32 input/output",
    "float16": "float16 weights (expanded to float32 at load), float activations",
    "float32": "float32 weights and activations",
}


@dataclass
class ExportSettings:
    """What to export and how to check it."""

    parity_faces: int = setting(16, "faces from the training folders used to measure TFLite vs Keras (0 = skip)")
    parity_tolerance: float = setting(0.06, "largest mean |TFLite - Keras| (per face, [0,1] scale) accepted")
    quantization: str = setting("dynamic", "TFLite variant: " + "; ".join(f"{name}: {what}" for name, what in
                                                                       QUANTIZATIONS.items()),
                                choices=tuple(QUANTIZATIONS))
    calibration_faces: int = setting(256, "training faces (spread over every folder of both sides) that fix the "
                                          "int8 ranges (quantization int8)")
    code_shift: float = setting(0.0, "move each face's code this share of the way from side A's mean code to side "
                                     "B's before decoder B (a2b only; measured on the checkpoint's training faces, "
                                     "which must be here; faceswap/model/code_shift.py); 0 = off")
    code_subspace: int = setting(0, "with --code-shift: move each code that share of the way to side B's mean plus "
                                    "its offset from side A's mean within the top this-many principal directions "
                                    "of side B's training codes (the subspace map, faceswap/model/code_shift.py); "
                                    "0 = the plain mean shift")
    tflite_only: bool = setting(False, "leave the SavedModel out of the export (the small bundled copy of "
                                       "models/default; the savedmodel backend needs a full export)")


TFLITE_ONLY_NOTE = ("SavedModel left out (export --tflite-only) to keep the bundled copy small; export again "
                    "without --tflite-only from the training checkpoint for the savedmodel backend")


def file_list(directory: Path) -> list[dict]:
    """Every file under ``directory`` except the manifest: relative path, bytes, sha256 (sorted)."""
    entries = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative == MANIFEST_NAME:
            continue
        entries.append({"path": relative, "bytes": path.stat().st_size, "sha256": file_sha256(path)})
    return entries


def _face_spec(size: int):
    import tensorflow as tf

    return tf.TensorSpec((None, size, size, 3), tf.float32, name="faces")


def swap_models(networks: Autoencoders, code_shift: np.ndarray | CodeMap | None = None) -> dict:
    """{direction: Keras swap model} as exported: the a2b path with ``code_shift`` added to its codes
    (faceswap/model/code_shift.py; None = no shift), b2a never shifted."""
    return {direction: networks.swap_model(direction, code_shift if direction == SHIFTED_DIRECTION else None)
            for direction in DIRECTIONS}


def write_savedmodel(networks: Autoencoders, path: Path, code_shift: np.ndarray | CodeMap | None = None) -> None:
    """SavedModel with signatures 'a2b' and 'b2a': {'faces': (N,S,S,3) f32} -> {'faces': (N,S,S,3) f32}
    (``swap_models``: a2b with the ``code_shift``, if any)."""
    import keras

    archive = keras.export.ExportArchive()
    models = swap_models(networks, code_shift)
    for model in models.values():
        archive.track(model)
    spec = _face_spec(networks.config.input_size)

    def swap_function(model):
        def swap(faces):
            return {"faces": model(faces, training=False)}
        return swap

    for direction, model in models.items():
        archive.add_endpoint(name=direction, fn=swap_function(model), input_signature=[spec])
    archive.write_out(str(path), verbose=False)


def write_tflite(savedmodel: Path, direction: str, path: Path, quantization: str = "dynamic",
                 calibration_faces: np.ndarray | None = None) -> None:
    """Convert one SavedModel signature to a TFLite model (``QUANTIZATIONS``; float32 faces in and out).

    ``int8`` (post-training full-integer quantization, TensorFlow's "Post-training integer
    quantization" guide) needs ``calibration_faces``: BGR float32 (N, S, S, 3) in [0, 1] whose
    activations fix every tensor's int8 range; the model keeps float32 input and output (a quantize
    and a dequantize op at the boundary). FaceswapError for an unknown variant or missing faces.
    """
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise FaceswapError(f"unknown quantization {quantization!r}: expected one of {', '.join(QUANTIZATIONS)}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(savedmodel), signature_keys=[direction])
    if quantization in ("dynamic", "int8", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # alone (no calibration data): dynamic-range int8
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        if calibration_faces is None or not len(calibration_faces):
            raise FaceswapError("int8 quantization needs calibration faces (training faces of the checkpoint)")
        faces = np.ascontiguousarray(calibration_faces, dtype=np.float32)
        converter.representative_dataset = lambda: ([faces[index:index + 1]] for index in range(len(faces)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path.write_bytes(converter.convert())


def side_sources(sides: dict, side: str) -> list[Path]:
    """The face folders (``extract`` output, with faces.json) and face packs of one side that are on
    this machine, from ``sides`` as a checkpoint's meta has them: {"a"|"b": {"folders": [paths]}}."""
    from faceswap.training.face_pack import is_face_pack

    paths = [Path(path) for path in sides.get(side, {}).get("folders", [])]
    return [path for path in paths if (path / "faces.json").is_file() or (path.is_file() and is_face_pack(path))]


def load_training_faces(sides: dict, layout, max_per_side: int | None = None) -> dict[str, np.ndarray]:
    """The training faces of each side whose folders or packs are here (``side_sources``) as model
    crops: {"a": BGR float32 (N, S, S, 3) [0, 1], "b": ...}; a side with none here is left out.
    ``max_per_side``: at most that many per side, evenly spread over all of its faces (None: every
    face, as the code shift needs). InputError when a folder or pack here is unreadable."""
    from faceswap.training.face_pack import load_side

    faces = {}
    for side in ("a", "b"):
        sources = side_sources(sides, side)
        if not sources or (max_per_side is not None and max_per_side <= 0):
            continue
        per_folder = None if max_per_side is None else -(-max_per_side // len(sources))
        face_set = load_side(side, sources, layout, progress=False, max_faces_per_folder=per_folder)
        indices = spread_indices(len(face_set), max_per_side)
        if len(indices):
            faces[side] = np.stack([face_set.model_crop(int(index)) for index in indices])
    return faces


def spread_indices(count: int, wanted: int | None) -> np.ndarray:
    """Indices of ``wanted`` items evenly spread over ``count`` (all of them when wanted is None or more)."""
    if wanted is None or wanted >= count:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, max(wanted, 0)).round().astype(int))


def _named_folders(sides: dict) -> dict:
    return {side: data.get("folders", []) for side, data in sides.items()}


def _check_code_map_settings(strength: float, subspace: int) -> None:
    """FaceswapError for a subspace map asked for without a shift strength (nothing to move by)."""
    if subspace and not strength > 0:
        raise FaceswapError(f"--code-subspace {subspace} needs a --code-shift strength above 0")


def checkpoint_code_shift(networks: Autoencoders, sides: dict, strength: float,
                          faces: dict[str, np.ndarray] | None = None, subspace: int = 0) -> tuple[object, dict]:
    """The code shift of trained ``networks`` at ``strength`` (faceswap/model/code_shift.py), measured on
    their training faces: ``faces`` as ``load_training_faces`` gives them, or loaded from ``sides``
    (a checkpoint's meta ``sides``, or the face folders / packs to use instead). Returns (float32
    code-shaped array, or None for strength 0; its description for the manifest: strength,
    direction, faces per side, norm of the move of side A's mean code). ``subspace`` > 0: the
    subspace map with that many of side B's principal directions instead (a CodeMap; the
    description adds ``subspace``). FaceswapError when a side's faces are not here, the strength is
    negative or not finite, or the subspace is not in 0 .. side B's faces - 1."""
    if not (np.isfinite(strength) and strength >= 0):
        raise FaceswapError(f"--code-shift is 0 (off) or more, not {strength}")
    _check_code_map_settings(strength, subspace)
    if strength == 0:
        return None, {"strength": 0.0}
    faces = load_training_faces(sides, networks.config.layout) if faces is None else faces
    for side in ("a", "b"):
        if side not in faces:
            raise FaceswapError(f"the code shift is measured on the training faces, and none of side "
                                f"{side.upper()}'s folders is here ({sides.get(side, {}).get('folders', [])}); "
                                f"extract them first (scripts/make_default_model.sh does for the default model) "
                                f"or name where they are with --faces-{side}")
    if subspace:
        try:
            shift = map_of(networks.encoder, faces["a"], faces["b"], strength, subspace)
        except ValueError as error:
            raise FaceswapError(f"--code-subspace: {error}") from None
        moved = shift.mean_shift
    else:
        shift = moved = shift_of(networks.encoder, faces["a"], faces["b"], strength)
    description = {"strength": float(strength), "direction": SHIFTED_DIRECTION,
                   "faces": {side: int(len(faces[side])) for side in ("a", "b")},
                   "norm": round(float(np.linalg.norm(moved)), 4)}
    if subspace:
        description["subspace"] = int(subspace)
    logger.info("code shift %.2f towards side B%s: norm %.3f, from %d + %d training faces", strength,
                f" (subspace of {subspace} directions)" if subspace else "", description["norm"],
                len(faces["a"]), len(faces["b"]))
    return shift, description


def _subset(faces: dict[str, np.ndarray], count: int) -> np.ndarray | None:
    """About ``count`` faces, half per side present, evenly spread; None when there are none."""
    parts = [batch[spread_indices(len(batch), max(count // len(faces), 1))] for batch in faces.values()] \
        if faces and count > 0 else []
    return np.concatenate(parts) if parts else None


def measure_parity(networks: Autoencoders, export_dir: Path, faces: np.ndarray,
                   code_shift: np.ndarray | CodeMap | None = None) -> dict:
    """Mean and max |TFLite - Keras| over ``faces`` (BGR float32 (N,S,S,3) [0,1]) for both directions
    (Keras: ``swap_models`` with the export's ``code_shift``)."""
    from faceswap.model.runtime import TFLiteSwap

    result = {"faces": int(len(faces))}
    for direction, model in swap_models(networks, code_shift).items():
        keras_out = np.asarray(model(faces, training=False))
        runner = TFLiteSwap(export_dir / tflite_name(direction), networks.config.input_size, num_threads=2)
        tflite_out = runner.run(np.ascontiguousarray(faces, dtype=np.float32))
        difference = np.abs(tflite_out - keras_out)
        result[direction] = {"mean_abs_diff": round(float(difference.mean()), 6),
                             "max_face_mean_abs_diff": round(float(difference.mean(axis=(1, 2, 3)).max()), 6),
                             "max_abs_diff": round(float(difference.max()), 6)}
    return result


def _prepare_output(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise FaceswapError(f"{output}: exists and is not a directory")
    if output.is_dir() and any(output.iterdir()) and not (output / MANIFEST_NAME).is_file():
        raise FaceswapError(f"{output}: is a non-empty directory that is not an exported model; "
                            f"choose an empty or new --output")


def export_model(model_dir: str | Path, output: str | Path, settings: ExportSettings | None = None,
                 face_sources: dict[str, list] | None = None) -> dict:
    """Export the checkpoint in ``model_dir`` to ``output`` (replacing an older export there).

    face_sources: {"a"|"b": [face folders or face packs]} where a side's training faces are on this
    machine when not at the paths the checkpoint names (a model trained on a GPU machine or in the
    cloud); they serve the code shift, the int8 calibration and the parity check, and the manifest
    lists them as ``face_sources``.
    Returns the manifest. CheckpointError if ``model_dir`` holds no usable checkpoint;
    FaceswapError if ``output`` is something else than an (old) export directory, for an unknown
    ``settings.quantization``, or for ``int8`` or a ``code_shift`` when the training faces are not
    here; InputError for an unreadable face folder or pack.
    """
    settings = settings or ExportSettings()
    if settings.quantization not in QUANTIZATIONS:
        raise FaceswapError(f"unknown quantization {settings.quantization!r}: expected one of {', '.join(QUANTIZATIONS)}")
    _check_code_map_settings(settings.code_shift, settings.code_subspace)
    model_dir, output = Path(model_dir), Path(output)
    checkpoint = load_checkpoint(model_dir)
    if checkpoint is None:
        raise CheckpointError(f"{model_dir}: no checkpoint.npz here; train a model into this directory first")
    _prepare_output(output)
    started = time.perf_counter()
    networks = build_autoencoders(checkpoint.config)
    checkpoint.restore_networks(networks)
    config = checkpoint.config
    sides = checkpoint.meta.get("sides", {})
    if face_sources:
        sides = {**sides, **{side: {"folders": [str(path) for path in paths]}
                             for side, paths in face_sources.items() if paths}}
        for side, paths in face_sources.items():
            missing = [str(path) for path in paths if Path(path) not in side_sources(sides, side)]
            if missing:
                raise FaceswapError(f"--faces-{side} {' '.join(missing)}: not a face folder (extract's output, with "
                                    f"faces.json) nor a face pack (.npz) here")
    # One read of the training faces serves the code shift (every face), the int8 calibration and
    # the parity check (spread subsets, half per side).
    wanted = max(settings.parity_faces, settings.calibration_faces if settings.quantization == "int8" else 0)
    if settings.code_shift > 0:
        faces = load_training_faces(sides, config.layout)
    else:
        faces = load_training_faces(sides, config.layout, -(-wanted // 2)) if wanted > 0 else {}
    shift, shift_description = checkpoint_code_shift(networks, sides, settings.code_shift, faces,
                                                     settings.code_subspace)

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".export", dir=output.parent))
    staging.chmod(0o755)
    try:
        write_savedmodel(networks, staging / SAVED_MODEL_DIR, shift)
        meta = checkpoint.meta
        calibration = None
        if settings.quantization == "int8":
            calibration = _subset(faces, settings.calibration_faces)
            if calibration is None:
                raise FaceswapError(f"{model_dir}: int8 quantization needs the training faces to calibrate on, "
                                    f"and none of the checkpoint's face folders is here ({_named_folders(sides)}); "
                                    f"name where they are with --faces-a / --faces-b")
        for direction in DIRECTIONS:
            write_tflite(staging / SAVED_MODEL_DIR, direction, staging / tflite_name(direction),
                         settings.quantization, calibration)
        manifest = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "config": config.name,
            "model_config": config.to_dict(),
            "input_size": config.input_size,
            "layout": {"size": config.input_size, "padding_ratio": config.padding_ratio},
            "tensor": {"shape": ["N", config.input_size, config.input_size, 3], "dtype": "float32",
                       "colour_order": "BGR", "range": [0.0, 1.0]},
            "directions": {direction: {"decoder": networks.decoder_for(direction).name,
                                       "tflite": tflite_name(direction), "savedmodel_signature": direction}
                           for direction in DIRECTIONS},
            "quantization": f"tflite: {QUANTIZATIONS[settings.quantization]}"
                            + ("" if settings.tflite_only else "; savedmodel: float32"),
            "tflite_quantization": settings.quantization,
            "calibration_faces": 0 if calibration is None else int(len(calibration)),
            "code_shift": shift_description,
            "iterations": checkpoint.iteration,
            "training_seconds": float(meta.get("training_seconds", 0.0)),
            "batch_size": meta.get("batch_size"),
            "sides": meta.get("sides", {}),
            "trained_from": str(model_dir),
            "training_started": meta.get("created"),
            "checkpoint_saved": meta.get("updated"),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if face_sources:
            manifest["face_sources"] = _named_folders(sides)
        parity_faces = _subset(faces, settings.parity_faces)
        if parity_faces is None and settings.parity_faces > 0:
            logger.warning("none of the training faces is here (%s): the TFLite vs Keras parity check is skipped; "
                           "name where they are with --faces-a / --faces-b", _named_folders(sides))
        if parity_faces is not None:
            manifest["parity"] = measure_parity(networks, staging, parity_faces, shift)
            worst = max(manifest["parity"][d]["max_face_mean_abs_diff"] for d in DIRECTIONS)
            manifest["parity"]["tolerance"] = settings.parity_tolerance
            if worst > settings.parity_tolerance:
                raise FaceswapError(f"{output}: the TFLite model differs from Keras by {worst:.4f} on a face "
                                    f"(tolerance {settings.parity_tolerance}); export aborted")
        if settings.tflite_only:
            shutil.rmtree(staging / SAVED_MODEL_DIR)
            manifest["bundled_note"] = TFLITE_ONLY_NOTE
        manifest["files"] = file_list(staging)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1))
        _replace_directory(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("exported %s (%s, iteration %d) to %s in %.1f s", model_dir, config.name, checkpoint.iteration,
                output, time.perf_counter() - started)
    return manifest


def _replace_directory(staging: Path, output: Path) -> None:
    """Move ``staging`` to ``output``; an old export there is moved aside first and then deleted."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        os.replace(output, old)
    os.replace(staging, output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
