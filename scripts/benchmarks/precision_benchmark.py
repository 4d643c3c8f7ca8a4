"""Seconds per train step of a config in float32 and in mixed_bfloat16, side by side. Prints one JSON.

What ``train --precision auto`` decides (faceswap/training/backend.py ``resolve_precision``): bfloat16
maths pay only on a CPU with bfloat16 instructions (AVX512_BF16, AMX, Arm BF16); elsewhere they are
emulated and slower. This measures it on this machine with the default model's step: ``lite96``,
batch 16 a side, the code discriminator (true face power) and the GAN's discriminator (``--gan``
patch or unet, or none), on random faces (speed does not depend on the pixels), each precision
and discriminator in its own process (the dtype policy is process-wide), the median of
``--steps`` timed steps after ``--warmup`` untimed ones, the load average before and after.

    .venv/bin/python scripts/benchmarks/precision_benchmark.py [--gan patch,unet] [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

PRECISIONS = ("float32", "mixed_bfloat16")
GANS = ("none", "patch", "unet")


def measure(precision: str, gan: str, config_name: str, batch: int, steps: int, warmup: int) -> dict:
    """One measurement in this process: seconds of each timed train step."""
    import numpy as np

    from faceswap.model.architecture import build_autoencoders, get_config
    from faceswap.training import patch_gan, true_face
    from faceswap.training.losses import LossSettings
    from faceswap.training.train_step import make_train_step
    from faceswap.training.trainer import TrainSettings, make_optimizer, set_precision

    set_precision(precision)
    config = get_config(config_name)
    loss = LossSettings(eyes_mouth_weight=0, true_face_power=0.003, gan_power=0.0 if gan == "none" else 0.1,
                        gan_discriminator="patch" if gan == "none" else gan)
    step = make_train_step(build_autoencoders(config), make_optimizer(TrainSettings()), loss,
                           true_face.build_code_discriminator(config),
                           None if gan == "none" else patch_gan.build_patch_discriminator(config, gan))
    rng = np.random.default_rng(0)
    size = config.input_size
    faces = [rng.random((batch, size, size, 3), np.float32) for _ in range(4)]
    masks = np.ones((batch, size, size), np.float32)
    arguments = (faces[0], faces[1], masks, masks, faces[2], faces[3], masks, masks)
    for _ in range(warmup):
        step(*arguments)
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step(*arguments)
        seconds.append(time.perf_counter() - started)
    return {"seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="lite96")
    parser.add_argument("--gan", default="patch", help="comma-separated: none, patch, unet")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("PRECISION", "GAN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(*args.one, args.config, args.batch_size, args.steps, args.warmup)))
        return 0
    gans = [name.strip() for name in args.gan.split(",") if name.strip()]
    if not gans or set(gans) - set(GANS):
        parser.error(f"--gan takes {', '.join(GANS)}, not {args.gan!r}")
    from faceswap.training.backend import cpu_has_bfloat16, resolve_precision

    result = {"config": args.config, "batch_size": args.batch_size, "steps": args.steps,
              "cpu_count": os.cpu_count(), "cpu_has_bfloat16": cpu_has_bfloat16(),
              "auto_precision_on_cpu": resolve_precision("auto", on_accelerator=False),
              "load_average_start": [round(x, 2) for x in os.getloadavg()], "runs": []}
    for gan in gans:
        for precision in PRECISIONS:
            command = [sys.executable, str(Path(__file__).resolve()), "--one", precision, gan, "--config", args.config,
                       "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--warmup", str(args.warmup)]
            done = subprocess.run(command, capture_output=True, text=True, check=False,
                                  env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
            result["runs"].append({"gan": gan, "precision": precision,
                                   "median_s_per_step": round(statistics.median(seconds), 3),
                                   "best_s_per_step": round(min(seconds), 3)})
    for gan in gans:
        by = {run["precision"]: run["median_s_per_step"] for run in result["runs"] if run["gan"] == gan}
        result[f"bfloat16_over_float32_{gan}"] = round(by["mixed_bfloat16"] / by["float32"], 2)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
