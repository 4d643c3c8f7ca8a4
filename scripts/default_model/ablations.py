"""Ablations of the default model's recipe: each technique of issue 9 measured on its own.

    nice -n 10 .venv/bin/python scripts/default_model/ablations.py \\
        --from models/default-training/checkpoint.npz --iterations 2000 --work workspace/ablations \\
        --variants baseline,eyes-mouth,all-people,balance,lr-schedule,color-augmentation,no-warp,pretrain [-- --batch-size 8]

Every variant starts from the same checkpoint (``--from``, copied with its parts to
``WORK/<variant>/checkpoint.npz``) at iteration S and trains to S + N (``--iterations N``) with
the recipe of scripts/make_default_model.sh — its train options (train_options.txt), its side
folders under workspace/default (or ``$FACESWAP_DEFAULT_WORK``), the checkpoint's seed — with
one part changed (``VARIANTS``):

- ``baseline``: the recipe as it is;
- ``eyes-mouth``: DeepFaceLab's eyes-and-mouth loss term at x300 (``--eyes-mouth-weight 300``; the
  recipe has none since the ``res96`` ablation measured no gain from it);
- ``all-people``: side A also holds the ~230 people of ``faces_a_people`` (``faces/`` pictures and
  clips, the human stills), not only the six people of ``faces_a_clips``;
- ``balance``: batches balanced over identities and head yaw instead of shuffled epochs;
- ``lr-schedule``: cosine decay of the learning rate to 0.2 x its peak at the variant's end, not a
  constant rate (from a checkpoint at S that is the decay's tail from S to S + N);
- ``color-augmentation``: random lightness / contrast / tint, the same on input and target;
- ``no-warp``: no random warp (``--warp-noise 0``): DeepFaceLab's final phase for sharpness;
- ``pretrain``: N/2 iterations with side B = the side-A folders (both decoders on all the faces,
  DeepFaceLab's pretraining), then N/2 normal ones; the learning rate follows the same schedule
  as the others (``--decay-end``);
- ``no-true-face`` / ``true-face-strong`` / ``true-face-step``: DeepFaceLab's true face power (an
  adversarial term that pushes the encoder's codes of side A towards side B's,
  training/true_face.py) at 0 / 0.1 / 0.01 (the identity step's power) instead of the recipe's 0.003;
- ``no-gan`` / ``gan-strong``: DeepFaceLab's GAN power (a patch discriminator on decoder B's
  faces, for detail, training/patch_gan.py) at 0 / 0.3 instead of the recipe's 0.1;
- ``gan-unet``: GAN power with DeepFaceLab's own U-Net patch discriminator (a verdict per pixel and
  per 12-px region, training/unet_discriminator.py) instead of the recipe's PatchGAN; it starts
  afresh, where the other variants carry on the checkpoint's trained PatchGAN;
- ``gradient-difference``: the gradient difference loss (Mathieu et al., ICLR 2016; x10, about a
  sixth of the recipe's loss at 37,000) added to the reconstruction loss, for sharp edges
  (session 18: less detail on the held-out people, not adopted);
- ``lr-dropout``: DeepFaceLab's learning-rate dropout (``--lr-dropout 0.3``: each step updates a
  random 30 % of the weights, training/lr_dropout.py), which its users switch on late for sharpness.

Options after ``--`` go to every training command (e.g. ``--batch-size 8``). The learning rate
of a variant follows the recipe's schedule for a run that ends at S + N: from a checkpoint past
the warm-up (300 iterations) that is the recipe's constant peak rate (``lr-schedule``: the tail of
the cosine decay from S to S + N), and a compact checkpoint starts Adam's moments afresh in every
variant alike (``pretrain``'s second half continues the moments of its first).

Then each variant's weights are measured with the quality benchmark exactly as
quality_vs_iterations.py measures snapshots (its functions: Keras weights, ``--max-frames`` of
each held-out clip — d12, d18, v25, v26 by default — against the target's held-out frames).

Prints one JSON (per variant: per clip distance to the target, judged-target share, detail
share of the ceiling, mouth and eye correlations, flicker ratio; the training commands, training
and wall seconds, the load average at start and end) and writes it to ``WORK/ablations.json``
with a markdown table, ``WORK/ablations.md``. Every process it starts runs at niceness >= 10 (it
raises its own, which they inherit). A variant already trained to S + N (and measured) in WORK is
reused, so an interrupted run continues where it stopped. Exit status 2 with one ``error:`` line
for a bad variant name, an unreadable checkpoint or a WORK of another ablation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS.parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(SCRIPTS))

from faceswap.errors import FaceswapError  # noqa: E402
from faceswap.training.checkpoint import checkpoint_path, copy_checkpoint, read_checkpoint, read_meta  # noqa: E402
from quality_vs_iterations import add_benchmark_arguments, benchmark_checkpoint, summarise  # noqa: E402
from recipe import recipe_options  # noqa: E402

logger = logging.getLogger("ablations")

DEFAULT_WORK = Path(os.environ.get("FACESWAP_DEFAULT_WORK", "workspace/default"))
HELD_OUT_MEDIA = ("../shared/data/clips/d12.mp4", "../shared/data/clips/d18.mp4",
                  "../shared/data/faces/videos/v25.mp4", "../shared/data/faces/videos/v26.mp4")
NICENESS = 10
# variant -> side-A folders it adds to the recipe's
EXTRA_SIDE_A: dict[str, list[str]] = {"all-people": [str(DEFAULT_WORK / "faces_a_people")]}

# name -> (what it changes, train options appended to the recipe's; the last one given wins)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("the recipe as it is", []),
    "eyes-mouth": ("eyes-and-mouth loss term x300", ["--eyes-mouth-weight", "300"]),
    "all-people": ("side A with the ~230 people of faces_a_people too", []),
    "balance": ("batches balanced over identities and yaw, not shuffled epochs", ["--balance"]),
    "lr-schedule": ("cosine decay to 0.2 x the peak at the end, not a constant rate", ["--decay-floor", "0.2"]),
    "color-augmentation": ("random lightness/contrast/tint on input and target", ["--color-augmentation"]),
    "no-warp": ("no random warp (the final phase without warp)", ["--warp-noise", "0"]),
    "pretrain": ("first half with side B = the side-A faces (pretraining), then normal", []),
    "no-true-face": ("without DeepFaceLab's true face power (the recipe's 0.003 -> 0)", ["--true-face-power", "0"]),
    "true-face-strong": ("true face power 0.1 (the recipe's 0.003)", ["--true-face-power", "0.1"]),
    "true-face-step": ("true face power 0.01, the identity step's (the recipe's 0.003)", ["--true-face-power", "0.01"]),
    "no-gan": ("without DeepFaceLab's GAN power (the recipe's 0.1 -> 0)", ["--gan-power", "0"]),
    "gan-strong": ("GAN power 0.3 (the recipe's 0.1)", ["--gan-power", "0.3"]),
    "gan-unet": ("DeepFaceLab's U-Net patch discriminator for GAN power (the recipe's PatchGAN), starting afresh",
                 ["--gan-discriminator", "unet"]),
    "gradient-difference": ("the gradient difference loss x10 (Mathieu et al. 2016) for sharp edges",
                            ["--gradient-difference-weight", "10"]),
    "lr-dropout": ("DeepFaceLab's learning-rate dropout: each step updates a random 30 % of the weights",
                   ["--lr-dropout", "0.3"]),
}


class AblationError(FaceswapError):
    """A run that cannot start: unknown variant, unreadable start checkpoint, WORK of another ablation."""


def parse_variants(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        raise AblationError(f"unknown variant(s) {', '.join(unknown) or '(none given)'}; choose from "
                            f"{', '.join(VARIANTS)}")
    return names


def train_commands(variant: str, model_dir: Path, side_a: list[str], side_b: list[str], config: str,
                   start: int, iterations: int, extra: list[str]) -> list[list[str]]:
    """The ``python -m faceswap train`` command lines of ``variant`` (run in order; each resumes the
    model directory): the recipe's options, the variant's change, ``--config`` of the start
    checkpoint, then ``extra``. ``pretrain`` has two, the first with side B = ``side_a``;
    ``all-people`` adds its folders (``EXTRA_SIDE_A``) to ``side_a``."""
    end = start + iterations
    side_a = [*side_a, *EXTRA_SIDE_A.get(variant, [])]
    base = [sys.executable, "-m", "faceswap", "--quiet", "train", "--model-dir", str(model_dir), "--side-a", *side_a]
    options = [*recipe_options(), *VARIANTS[variant][1], "--config", config, *extra]
    if variant == "pretrain":
        middle = start + iterations // 2
        return [[*base, "--side-b", *side_a, "--iterations", str(middle), *options, "--decay-end", str(end)],
                [*base, "--side-b", *side_b, "--iterations", str(end), *options]]
    return [[*base, "--side-b", *side_b, "--iterations", str(end), *options]]


def raise_niceness(target: int = NICENESS) -> int:
    """Make this process (and so everything it starts) run at niceness ``target`` or more; returns it."""
    current = os.nice(0)
    return os.nice(target - current) if current < target else current


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _iteration(model_dir: Path) -> int:
    path = checkpoint_path(model_dir)
    return int(read_meta(path).get("iteration", 0)) if path.exists() else -1


def prepare_variant(directory: Path, start_path: Path, start: int, iterations: int, variant: str) -> None:
    """Copy the start checkpoint into ``directory`` unless it holds this ablation already;
    AblationError if it holds another one."""
    record = {"from": str(start_path.resolve()), "start_iteration": start, "iterations": iterations,
              "variant": variant}
    stamp = directory / "ablation.json"
    if stamp.is_file():
        if json.loads(stamp.read_text()) != record:
            raise AblationError(f"{directory} holds another ablation ({stamp.read_text().strip()}); "
                                "use another --work")
        return
    directory.mkdir(parents=True, exist_ok=True)
    copy_checkpoint(start_path, checkpoint_path(directory))
    stamp.write_text(json.dumps(record) + "\n")


def run_variant(variant: str, args: argparse.Namespace, start_path: Path, start: int, config: str) -> dict:
    """Train ``variant`` (unless done), benchmark it (unless done) and return its JSON entry."""
    directory = args.work / variant
    end = start + args.iterations
    prepare_variant(directory, start_path, start, args.iterations, variant)
    entry_path = directory / "result.json"
    if entry_path.is_file() and _iteration(directory) == end:
        logger.info("%s: measured before, reused (%s)", variant, entry_path)
        return json.loads(entry_path.read_text())
    commands = train_commands(variant, directory, args.side_a, args.side_b, config, start, args.iterations,
                              args.train_args)
    load_start = _load()
    seconds_before = float(read_meta(checkpoint_path(directory)).get("training_seconds", 0.0))
    wall = time.perf_counter()
    with open(directory / "train.log", "a") as log:
        for command in commands:
            total = int(command[command.index("--iterations") + 1])
            if _iteration(directory) >= total:
                continue  # this phase was done by an earlier, interrupted run
            logger.info("%s: %s", variant, shlex.join(command))
            log.write(f"$ {shlex.join(command)}\n")
            log.flush()
            done = subprocess.run(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                raise AblationError(f"{variant}: training failed (exit {done.returncode}); see {log.name}")
    train_wall = time.perf_counter() - wall
    checkpoint = read_checkpoint(checkpoint_path(directory))
    load_trained = _load()
    logger.info("%s: trained to %d; benchmark", variant, checkpoint.iteration)
    wall = time.perf_counter()
    report = benchmark_checkpoint(checkpoint, args.media, args)
    (directory / "quality.json").write_text(json.dumps(report, indent=1) + "\n")
    entry = {
        "variant": variant, "what": VARIANTS[variant][0], "train_commands": [shlex.join(c) for c in commands],
        "start_iteration": start, "iteration": checkpoint.iteration,
        "training_seconds": round(float(checkpoint.meta.get("training_seconds", 0.0)) - seconds_before, 1),
        "train_wall_seconds": round(train_wall, 1), "benchmark_wall_seconds": round(time.perf_counter() - wall, 1),
        "load_average": {"start": load_start, "after_training": load_trained, "end": _load()},
        "media": summarise(report),
    }
    entry_path.write_text(json.dumps(entry, indent=1) + "\n")
    return entry


def _cell(figures: dict) -> str:
    def text(key: str, form: str) -> str:
        value = figures.get(key)
        return "-" if value is None else format(value, form)
    return " / ".join((text("output_to_target", ".2f"), text("judged_target", ".0%"),
                       text("detail_share_of_ceiling", ".2f"), text("mouth_correlation", ".2f"),
                       text("eye_correlation", ".2f"), text("flicker_ratio", ".2f")))


def markdown(result: dict) -> str:
    """The ablation as a markdown table: one row per variant, one column per clip."""
    media = sorted({name for entry in result["variants"].values() for name in entry["media"]})
    lines = [f"Ablations from {result['from']} (iteration {result['start_iteration']}), "
             f"{result['iterations']} iterations each; niceness {result['niceness']}, {result['cpus']} CPUs.",
             "", "Each cell: distance to the target / judged target / detail share of the ceiling / mouth "
             "correlation / eye correlation / flicker ratio.", "",
             "| variant | " + " | ".join(media) + " | training s | load start → end |",
             "|---" * (len(media) + 3) + "|"]
    for name, entry in result["variants"].items():
        cells = [_cell(entry["media"].get(medium, {})) for medium in media]
        load = entry["load_average"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {entry['training_seconds']:.0f} | "
                     f"{load['start'][0]:.1f} → {load['end'][0]:.1f} |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="options after -- go to every training command, e.g. -- --batch-size 8")
    parser.add_argument("--from", dest="start", required=True, type=Path,
                        help="checkpoint to start every variant from (compact or full, with its parts)")
    parser.add_argument("--iterations", required=True, type=int, help="iterations each variant trains (N)")
    parser.add_argument("--work", required=True, type=Path, help="folder of WORK/<variant>/ and the results")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--side-a", nargs="+", default=[str(DEFAULT_WORK / "faces_a_clips")],
                        help="side-A face folders (default: make_default_model.sh's)")
    parser.add_argument("--side-b", nargs="+", default=[str(DEFAULT_WORK / "faces_b")],
                        help="side-B face folders (default: make_default_model.sh's)")
    parser.add_argument("--media", nargs="+", default=list(HELD_OUT_MEDIA), help="held-out clips to measure")
    add_benchmark_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    train_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, train_args = argv[:split], argv[split + 1:]
    args = build_parser().parse_args(argv)
    args.train_args = train_args
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        return run(args)
    except FaceswapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    variants = parse_variants(args.variants)
    if args.iterations < (2 if "pretrain" in variants else 1):
        raise AblationError(f"--iterations must be at least {2 if 'pretrain' in variants else 1}")
    niceness = raise_niceness()
    start_checkpoint = read_checkpoint(args.start)
    start, config = start_checkpoint.iteration, start_checkpoint.config.name
    del start_checkpoint
    result = {"from": str(args.start), "start_iteration": start, "iterations": args.iterations, "config": config,
              "train_options": recipe_options() + args.train_args, "media": args.media, "target": args.target,
              "target_first_frame": args.target_first_frame, "max_frames": args.max_frames,
              "niceness": niceness, "cpus": os.cpu_count(), "load_average_start": _load(), "variants": {}}
    for variant in variants:
        result["variants"][variant] = run_variant(variant, args, args.start, start, config)
    result["load_average_end"] = _load()
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "ablations.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.work / "ablations.md").write_text(markdown(result))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
