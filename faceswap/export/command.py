"""`python -m faceswap export`: a training model directory -> an exported model directory for serving.

    python -m faceswap export --model-dir workspace/d6-model --output models/default
    python -m faceswap export --model-dir work/gpu-model --output work/exported --code-shift 0.5 \
        --faces-a .gpu_bundle/faces_a.npz --faces-b .gpu_bundle/faces_b.npz
"""

from __future__ import annotations

import argparse

from faceswap.export.exporter import ExportSettings, export_model
from faceswap.settings import add_dataclass_arguments, settings_from

HELP = "export a trained model (SavedModel + TFLite int8 + manifest.json) for conversion and serving"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", required=True, metavar="DIR", help="training directory with checkpoint.npz")
    parser.add_argument("--output", "-o", required=True, metavar="DIR",
                        help="export directory to write (an older export there is replaced)")
    parser.add_argument("--compact-checkpoint", metavar="FILE",
                        help="also write the training checkpoint as float16 weights without optimizer state to "
                             "FILE and, past 15 MB, FILE's parts <stem>.partN.npz beside it (each small enough for "
                             "a repository; copy all of them to <model dir>/ under the names checkpoint*.npz to "
                             "resume)")
    for side in ("a", "b"):
        parser.add_argument(f"--faces-{side}", nargs="+", metavar="PATH",
                            help=f"face folders or face packs of side {side.upper()} on this machine, where they are not "
                                 f"at the paths the checkpoint names (a model trained on a GPU machine or in the "
                                 f"cloud): for the code shift, int8 calibration and the parity check")
    add_dataclass_arguments(parser, ExportSettings)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(ExportSettings, args, env_prefix="FACESWAP_EXPORT_")
    face_sources = {side: paths for side, paths in (("a", args.faces_a), ("b", args.faces_b)) if paths}
    manifest = export_model(args.model_dir, args.output, settings, face_sources or None)
    sizes = ", ".join(f"{entry['path']} {entry['bytes'] / 1e6:.1f} MB" for entry in manifest["files"]
                      if entry["path"].endswith(".tflite"))
    parity = manifest.get("parity")
    check = (f"; TFLite vs Keras mean |diff| a2b {parity['a2b']['mean_abs_diff']:.4f}, "
             f"b2a {parity['b2a']['mean_abs_diff']:.4f} on {parity['faces']} faces") if parity else ""
    if args.compact_checkpoint:
        from faceswap.errors import CheckpointError
        from faceswap.training.checkpoint import checkpoint_files, load_checkpoint, save_compact_checkpoint

        checkpoint = load_checkpoint(args.model_dir)
        if checkpoint is None:
            raise CheckpointError(f"{args.model_dir}: no checkpoint.npz to compact")
        path = save_compact_checkpoint(checkpoint, args.compact_checkpoint)
        files = ", ".join(f"{file} {file.stat().st_size / 1e6:.1f} MB" for file in checkpoint_files(path))
        print(f"compact checkpoint (float16 weights, no optimizer state): {files}")
    print(f"exported {manifest['config']} model (iteration {manifest['iterations']}) to {args.output}: {sizes}{check}")
    return 0
