#!/usr/bin/env python3
"""Train on a GPU machine without TensorFlow or network, from a bundle made by prepare_bundle.py.

The machine needs Python >= 3.10 with JAX or PyTorch for its GPU, NumPy, OpenCV, tqdm and
matplotlib; the bundle brings the face packs, the wheels Keras needs beyond that (run.sh installs
them) and the training settings. This is ``python -m faceswap train`` (faceswap/training/trainer.py)
with the Keras backend chosen here, augmentation spread over worker processes (one per core but
one: faceswap/training/parallel_batches.py) and a wall-clock budget:

    KERAS_BACKEND=jax python3 scripts/gpu_training/train_gpu.py --bundle .gpu_bundle --output OUT --minutes 9

Writes to ``--output``: ``model/`` (checkpoint.npz, loss.csv, loss.png, preview.png: a model
directory that resumes anywhere, TensorFlow included) and ``summary.json`` (backend, devices,
iterations, it/s overall and after the first ``--steady-after`` iterations (compilation), losses and
the adversarial parts' losses (means of the last 50 iterations),
load average). ``--part-mb 15`` also writes the checkpoint as float16 weights (compact
checkpoint) in parts of at most 15 MB, for transfers that limit file sizes, into ``compact/``
(``checkpoint.npz``, ``checkpoint.part2.npz`` ...: faceswap/training/checkpoint.py): a model
directory that resumes as it is (copy all of its files). Any train option (``--batch-size``,
``--iterations``, ``--learning-rate`` ...) given here overrides the bundle's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from faceswap.training import command as train_command  # noqa: E402  (imports no Keras backend)
from faceswap.training.backend import BACKENDS, select_backend  # noqa: E402

BUNDLE_SETTINGS = "bundle.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True, type=Path, help="folder made by prepare_bundle.py")
    parser.add_argument("--output", required=True, type=Path, help="where model/ and summary.json go")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "jax"), choices=BACKENDS,
                        help="Keras backend (default: $KERAS_BACKEND, else jax)")
    parser.add_argument("--part-mb", type=float, default=0.0,
                        help="also write the compact checkpoint into OUTPUT/compact/ in parts of at most this many "
                             "MB (0: no)")
    parser.add_argument("--steady-after", type=int, default=20,
                        help="iterations left out of the steady-state it/s (compilation, warm-up)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    train_command.add_arguments(parser)
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    """Bundle settings first, then ``argv`` (later options win); sides come from the bundle."""
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--bundle", type=Path)
    probe.add_argument("--output", type=Path)
    known, _ = probe.parse_known_args(argv)
    bundle_args: list[str] = []
    if known.bundle is not None and (known.bundle / BUNDLE_SETTINGS).is_file():
        bundle = json.loads((known.bundle / BUNDLE_SETTINGS).read_text())
        bundle_args = [*bundle.get("train_args", []),
                       "--side-a", *(str(known.bundle / name) for name in bundle["side_a"]),
                       "--side-b", *(str(known.bundle / name) for name in bundle["side_b"])]
    model_dir = ["--model-dir", str((known.output or Path(".")) / "model")]
    return build_parser().parse_args([*bundle_args, *model_dir, *argv])


def steady_rate(loss_csv: Path, skip: int, start_iteration: int = 0) -> tuple[float, int]:
    """(iterations/s after the first ``skip`` iterations of this run, iterations counted) from
    loss.csv (read by faceswap/training/loss_log.py); this run's rows are those past
    ``start_iteration``, the iteration it resumed from (rows of earlier runs in the same model
    folder are not counted). (nan, 0) when fewer than ``skip`` + 2 iterations were recorded."""
    from faceswap.training.loss_log import LossLog

    if not loss_csv.is_file():  # the budget ended before the first iteration
        return math.nan, 0
    rows = [row for row in LossLog(loss_csv).rows if row[0] > start_iteration]
    if len(rows) <= skip + 1:
        return math.nan, 0
    (first, _, _, first_seconds), (last, _, _, last_seconds) = rows[skip], rows[-1]
    count = last - first
    seconds = last_seconds - first_seconds
    return (count / seconds if seconds > 0 else math.nan), count


def adversarial_means(loss_csv: Path, last: int) -> dict[str, float]:
    """{column: mean over the last ``last`` iterations that recorded it} of loss.csv's adversarial
    losses (GAN / true face discriminator and generator, faceswap/training/loss_log.py); {} without."""
    from faceswap.training.loss_log import ADVERSARIAL_NAMES, LossLog

    if not loss_csv.is_file():
        return {}
    log = LossLog(loss_csv)
    means = {}
    for name in ADVERSARIAL_NAMES:
        values = [losses[name] for _, losses in sorted(log.adversarial.items()) if name in losses][-last:]
        if values:
            means[name] = round(sum(values) / len(values), 5)
    return means


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    select_backend(args.backend)  # before anything imports Keras
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import logging

    from faceswap.settings import settings_from
    from faceswap.training import backend
    from faceswap.training.augmentation import AugmentSettings
    from faceswap.training.losses import LossSettings
    from faceswap.training.trainer import TrainSettings, Trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from(TrainSettings, args, env_prefix=train_command.ENV_PREFIX)
    if args.workers is None and train_command.ENV_PREFIX + "WORKERS" not in os.environ:
        settings.workers = max(1, (os.cpu_count() or 2) - 1)
    args.output.mkdir(parents=True, exist_ok=True)
    model_dir = Path(args.model_dir)
    from faceswap.training.checkpoint import checkpoint_files, copy_checkpoint, load_checkpoint, save_compact_checkpoint

    resume = args.bundle / "checkpoint.npz"
    if resume.is_file() and not (model_dir / "checkpoint.npz").exists():
        copy_checkpoint(resume, model_dir / "checkpoint.npz")  # with its parts
    trainer = Trainer(args.side_a, args.side_b, model_dir, settings,
                      augment=settings_from(AugmentSettings, args, env_prefix=train_command.ENV_PREFIX),
                      loss=settings_from(LossSettings, args, env_prefix=train_command.ENV_PREFIX),
                      progress=not args.quiet)
    started = time.perf_counter()
    result = trainer.run()
    rate, counted = steady_rate(model_dir / "loss.csv", args.steady_after, result.start_iteration)
    losses = result.losses
    tail = losses[-min(50, len(losses)):] if losses else []
    summary = {
        **backend.describe(), "config": settings.config, "batch_size": settings.batch_size,
        "precision": settings.precision, "workers": settings.workers, "minutes": settings.minutes,
        "start_iteration": result.start_iteration, "iteration": result.iteration,
        "stopped_by_budget": result.stopped_by_budget, "run_seconds": round(time.perf_counter() - started, 1),
        "loop_seconds": round(result.seconds, 1), "it_per_s": round(result.iterations_per_second, 3),
        "it_per_s_steady": None if math.isnan(rate) else round(rate, 3), "steady_iterations": counted,
        "loss_first": [round(a, 5) for a in losses[0][1:]] if losses else None,
        "loss_last50_mean": [round(sum(row[k] for row in tail) / len(tail), 5) for k in (1, 2)] if tail else None,
        "loss_every_n": [[i, round(a, 5), round(b, 5)] for i, a, b in losses[::max(1, len(losses) // 100)]],
        "adversarial_last50_mean": adversarial_means(model_dir / "loss.csv", 50),
        "cpu_count": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    checkpoint = load_checkpoint(model_dir)
    if args.part_mb > 0 and checkpoint is not None:
        compact = save_compact_checkpoint(checkpoint, args.output / "compact" / "checkpoint.npz",
                                          part_bytes=int(args.part_mb * 1e6))
        summary["checkpoint_parts"] = [str(path.relative_to(args.output)) for path in checkpoint_files(compact)]
    (args.output / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "loss_every_n"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
