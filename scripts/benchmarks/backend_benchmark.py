"""Train-step speed of the Keras backends on this machine. Prints one JSON object.

For every (backend, config) asked for, a fresh process (the backend is chosen per process)
builds the networks and the backend-neutral train step (faceswap/training/train_step.py), runs
``--warmup`` steps (JAX compiles with XLA on the first), then times ``--chunks`` chunks of
``--steps`` steps on ready-made random batches (augmentation excluded: this compares the step).
Reported per run: compile/first-step seconds, best and median iterations/s over the chunks,
the load average before and after. Runs alternate between backends so that a busy neighbour
hurts both alike.

    .venv/bin/python scripts/benchmarks/backend_benchmark.py --backends tensorflow jax --configs tiny res96
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

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {repo!r})
import numpy as np
from faceswap.model.architecture import build_autoencoders
from faceswap.training.trainer import TrainSettings, make_optimizer, set_precision, trainable_variables
from faceswap.training.train_step import make_train_step
import keras
keras.utils.set_random_seed(0)
set_precision({precision!r})
networks = build_autoencoders({config!r})
optimizer = make_optimizer(TrainSettings(learning_rate=1e-4))
optimizer.build(trainable_variables(networks))
step = make_train_step(networks, optimizer)
size, batch = networks.config.input_size, {batch}
rng = np.random.default_rng(0)
faces = [rng.random((batch, size, size, 3), dtype=np.float32) for _ in range(4)]
masks = [np.ones((batch, size, size), np.float32), (rng.random((batch, size, size)) > 0.8).astype(np.float32)]
args = (faces[0], faces[1], masks[0], masks[1], faces[2], faces[3], masks[0], masks[1])
started = time.perf_counter()
step(*args)
first = time.perf_counter() - started
for _ in range({warmup}):
    step(*args)
rates = []
for _ in range({chunks}):
    started = time.perf_counter()
    for _ in range({steps}):
        losses = step(*args)
    rates.append({steps} / (time.perf_counter() - started))
print("RESULT " + json.dumps({{"first_step_s": round(first, 2), "rates": rates, "loss": losses}}))
"""


def run_one(backend: str, config: str, args) -> dict:
    code = CHILD.format(repo=str(REPO_ROOT), precision=args.precision, config=config, batch=args.batch_size,
                        warmup=args.warmup, chunks=args.chunks, steps=args.steps)
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    load_before = os.getloadavg()
    started = time.perf_counter()
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                             cwd=REPO_ROOT, timeout=args.timeout)
    line = next((line for line in process.stdout.splitlines() if line.startswith("RESULT ")), None)
    if process.returncode != 0 or line is None:
        return {"backend": backend, "config": config, "error": process.stderr[-2000:]}
    data = json.loads(line[len("RESULT "):])
    rates = data.pop("rates")
    return {"backend": backend, "config": config, "batch_size": args.batch_size, "precision": args.precision,
            "it_per_s_best": round(max(rates), 3), "it_per_s_median": round(statistics.median(rates), 3),
            **data, "process_s": round(time.perf_counter() - started, 1),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"], choices=("tensorflow", "jax", "torch"))
    parser.add_argument("--configs", nargs="+", default=["tiny", "res96"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    runs = [run_one(backend, config, args) for config in args.configs for backend in args.backends]
    print(json.dumps({"benchmark": "backend_train_step", "cpu_count": os.cpu_count(), "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
