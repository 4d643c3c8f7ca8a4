#!/usr/bin/env python3
"""Prepare the folder a GPU machine without network trains from (scripts/gpu_training/train_gpu.py).

    .venv/bin/python scripts/gpu_training/prepare_bundle.py \\
        --side-a workspace/default/faces_a_clips \\
        --side-b workspace/default/faces_b --config lite96 --output .gpu_bundle \\
        [--resume-from workspace/default/model] -- --batch-size 64 --save-interval 2000

Writes into ``--output`` (an ignored path; it travels to the machine beside the repository):

- ``faces_a.npz``, ``faces_b.npz``: face packs (faceswap/training/face_pack.py): the working
  crops of the config (oversample x its input size) as JPEG, landmarks, identity keys. The JPEG
  quality steps down from ``--quality`` until the packs fit ``--max-mb``;
- ``wheels/``: the wheels Keras needs beyond what the machine has (keras, namex, optree at the
  versions of requirements.lock), downloaded with pip for CPython ``--python-version`` on
  manylinux x86-64 (run.sh installs them with ``--no-index``);
- ``checkpoint.npz`` (with ``--resume-from``): the model directory's checkpoint as a compact one
  (float16 weights, no Adam state: a sixth of the size; past 15 MB with its parts
  ``checkpoint.part2.npz`` ..., faceswap/training/checkpoint.py) so the GPU run continues the model, or
  whole with ``--full-checkpoint`` (where size does not matter, e.g. Cloud Storage); it counts
  towards ``--max-mb``;
- ``bundle.json``: the sides and the train options given to ``train_gpu.py``: the default model's
  recipe (scripts/default_model/train_options.txt, read by scripts/default_model/recipe.py; another
  file with ``--recipe``, none with ``--no-recipe``), then ``--config`` / ``--oversample`` of this
  command, then the options after ``--`` (later options win: ``-- --batch-size 64`` for a GPU), sizes.

It prints the size of what travels: the repository's tracked and untracked-but-not-ignored files
plus the bundle (a transfer limit such as 64 MiB applies to the sum).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from faceswap.errors import FaceswapError  # noqa: E402
from faceswap.model.architecture import CONFIGS, get_config  # noqa: E402
from faceswap.training.checkpoint import (checkpoint_files, copy_checkpoint, load_checkpoint,  # noqa: E402
                                          save_compact_checkpoint)
from faceswap.training.dataset import load_face_set  # noqa: E402
from faceswap.training.face_pack import write_face_pack  # noqa: E402
from scripts.default_model.recipe import TRAIN_OPTIONS, recipe_options  # noqa: E402

WHEELS = ("keras", "namex", "optree")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
QUALITY_STEPS = (95, 90, 85, 80, 75, 70)


def locked_versions(names: tuple[str, ...], lock: Path = REPO_ROOT / "requirements.lock") -> list[str]:
    """``name==version`` of each name as pinned in the lock; ValueError naming what is missing."""
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    missing = [name for name in names if name not in pins]
    if missing:
        raise ValueError(f"not pinned in {lock}: {', '.join(missing)}")
    return [f"{name}=={pins[name]}" for name in names]


def download_wheels(directory: Path, python_version: str) -> list[str]:
    """pip-download the WHEELS for CPython ``python_version`` on manylinux x86-64 into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
               python_version, "--implementation", "cp", *(f"--platform={p}" for p in PLATFORMS), "-d",
               str(directory), *locked_versions(WHEELS)]
    subprocess.run(command, check=True)
    return sorted(path.name for path in directory.glob("*.whl"))


def travelling_bytes(bundle: Path) -> int:
    """Bytes of the repository's tracked + untracked-not-ignored files, plus the bundle."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    repository = sum((REPO_ROOT / name.decode()).stat().st_size for name in listed
                     if name and (REPO_ROOT / name.decode()).is_file())
    return repository + sum(path.stat().st_size for path in bundle.rglob("*") if path.is_file())


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (bundle.json names no machine's folders)."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    try:
        return prepare(sys.argv[1:] if argv is None else argv)
    except FaceswapError as error:  # unreadable faces or checkpoint: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


def prepare(argv: list[str]) -> int:
    train_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, train_args = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side-a", nargs="+", required=True, type=Path)
    parser.add_argument("--side-b", nargs="+", required=True, type=Path)
    parser.add_argument("--config", default="lite96", choices=tuple(CONFIGS))
    parser.add_argument("--oversample", type=float, default=1.5, help="working crop resolution, x the model's")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / ".gpu_bundle")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality to start from")
    parser.add_argument("--max-mb", type=float, default=48.0,
                        help="most MB the face packs and the checkpoint may take together")
    parser.add_argument("--python-version", default="3.12", help="Python of the GPU machine (for the wheels)")
    parser.add_argument("--no-wheels", action="store_true", help="skip the wheel download (tests)")
    parser.add_argument("--resume-from", type=Path, help="model directory whose checkpoint.npz the GPU run continues")
    parser.add_argument("--recipe", type=Path, default=TRAIN_OPTIONS,
                        help="train options file the bundle starts from (default: the default model's recipe, "
                             "scripts/default_model/train_options.txt)")
    parser.add_argument("--no-recipe", action="store_true", help="no recipe: only the options after --")
    parser.add_argument("--full-checkpoint", action="store_true",
                        help="with --resume-from: carry the whole checkpoint (Adam state too), not the compact one")
    args = parser.parse_args(argv)

    config = get_config(args.config)
    output = args.output
    output.mkdir(parents=True, exist_ok=True)
    carried = output / "checkpoint.npz"
    for stale in (carried, *output.glob("checkpoint.part*.npz")):  # never a stale checkpoint of an earlier bundle
        stale.unlink(missing_ok=True)
    if args.resume_from is not None:
        checkpoint = load_checkpoint(args.resume_from)
        if checkpoint is None:
            raise SystemExit(f"{args.resume_from}: no checkpoint.npz to resume")
        if checkpoint.config.name != args.config:
            raise SystemExit(f"{checkpoint.path} is a {checkpoint.config.name!r} model, not {args.config!r}")
        if args.full_checkpoint:
            copy_checkpoint(checkpoint.path, carried)
        else:
            save_compact_checkpoint(checkpoint, carried)
    checkpoint_mb = sum(path.stat().st_size for path in checkpoint_files(carried)) / 1e6 if carried.exists() else 0.0
    sides = {"a": load_face_set("a", args.side_a, config.layout, args.oversample),
             "b": load_face_set("b", args.side_b, config.layout, args.oversample)}
    qualities = [q for q in QUALITY_STEPS if q <= args.quality] or [args.quality]
    for quality in qualities:
        packs = {side: write_face_pack(face_set, output / f"faces_{side}.npz", quality)
                 for side, face_set in sides.items()}
        pack_mb = sum(path.stat().st_size for path in packs.values()) / 1e6
        if pack_mb + checkpoint_mb <= args.max_mb:
            break
        print(f"packs take {pack_mb:.1f} MB at JPEG quality {quality} (+ {checkpoint_mb:.1f} MB checkpoint), "
              f"more than --max-mb {args.max_mb}", file=sys.stderr)
    else:
        raise SystemExit(f"the faces do not fit in {args.max_mb} MB even at JPEG quality {qualities[-1]}: "
                         "raise --max-mb or pack fewer faces")
    wheels = [] if args.no_wheels else download_wheels(output / "wheels", args.python_version)
    recipe = [] if args.no_recipe else recipe_options(args.recipe)
    train_args = [*recipe, "--config", args.config, "--oversample", str(args.oversample), *train_args]
    bundle = {"config": args.config, "side_a": ["faces_a.npz"], "side_b": ["faces_b.npz"], "train_args": train_args,
              "recipe": None if args.no_recipe else _shown(args.recipe),
              "faces": {side: len(face_set) for side, face_set in sides.items()},
              "working_size": sides["a"].images[0].shape[0], "jpeg_quality": quality,
              "pack_mb": round(pack_mb, 2), "wheels": wheels, "python_version": args.python_version,
              "resumes": carried.is_file(), "checkpoint_mb": round(checkpoint_mb, 2)}
    (output / "bundle.json").write_text(json.dumps(bundle, indent=2) + "\n")
    bundle["travelling_mb"] = round(travelling_bytes(output) / 2 ** 20, 2)
    print(json.dumps(bundle, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
