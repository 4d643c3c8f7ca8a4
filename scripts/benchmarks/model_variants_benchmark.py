r"""Model-stage benchmark: CPU ms per face and parity with Keras of exported TFLite variants, as JSON.

    for q in dynamic int8 float16 float32; do
        .venv/bin/python -m faceswap export --model-dir MODEL --output /tmp/m-$q --quantization $q; done
    .venv/bin/python scripts/benchmarks/model_variants_benchmark.py /tmp/m-dynamic /tmp/m-int8 /tmp/m-float16 \
        /tmp/m-float32 --holdout workspace/default/holdout_b

Each directory is an exported model (``python -m faceswap export --quantization ...``). Timing is the
live path: one face per call (``SwapModel.swap``, TFLite with ONE interpreter thread, as a prediction
worker runs it, XNNPACK applied by the runtime), in rounds that visit every directory in turn so that
a machine shared with other work slows them alike; the figure is process CPU ms per face (the median
round), with wall ms next to it, and the load average before and after.

Parity: mean |TFLite - Keras| on held-out faces (``--holdout``: an extracted face folder the model
was not trained on), both directions, on the [0, 1] scale. The Keras reference is the directory's own
float32 SavedModel (the exporter's tests hold it to Keras within 1e-4).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from prediction_routine.native_threads import limit_native_threads  # noqa: E402

limit_native_threads()  # before numpy loads: one thread per library, as in a prediction worker

import numpy as np  # noqa: E402

from faceswap.model.runtime import DIRECTIONS, RuntimeSettings, load_swap_model  # noqa: E402
from faceswap.model.tflite_inspect import tflite_precision  # noqa: E402
from faceswap.training.dataset import load_face_set  # noqa: E402


def holdout_faces(folder: str, layout, count: int) -> np.ndarray:
    """BGR float32 (N, S, S, 3) [0, 1] model crops of up to ``count`` faces of ``folder``, evenly spread."""
    face_set = load_face_set("b", [folder], layout, progress=False, max_faces=count)
    return np.stack([face_set.model_crop(index) for index in range(len(face_set))])


def parity(model, reference, faces: np.ndarray) -> dict:
    """Mean, worst-face mean and max |model - reference| per direction on ``faces``."""
    result = {}
    for direction in DIRECTIONS:
        difference = np.abs(model.swap(faces, direction) - reference.swap(faces, direction))
        result[direction] = {"mean_abs_diff": round(float(difference.mean()), 5),
                             "max_face_mean_abs_diff": round(float(difference.mean(axis=(1, 2, 3)).max()), 5),
                             "max_abs_diff": round(float(difference.max()), 4)}
    return result


def time_rounds(models: dict, faces: np.ndarray, rounds: int, calls: int, direction: str) -> dict:
    """Per model: CPU and wall ms per one-face call, median and best of ``rounds`` rounds of ``calls``."""
    cpu: dict[str, list[float]] = {name: [] for name in models}
    wall: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():  # warm up (first invoke allocates and packs weights)
        for index in range(3):
            model.swap(faces[index % len(faces)][None], direction)
    for _ in range(rounds):
        for name, model in models.items():
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            for index in range(calls):
                model.swap(faces[index % len(faces)][None], direction)
            cpu[name].append((time.process_time() - cpu_started) * 1000.0 / calls)
            wall[name].append((time.perf_counter() - wall_started) * 1000.0 / calls)
    return {name: {"cpu_ms_per_face": round(float(np.median(cpu[name])), 3),
                   "cpu_ms_per_face_best": round(float(np.min(cpu[name])), 3),
                   "wall_ms_per_face": round(float(np.median(wall[name])), 3)} for name in models}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dirs", nargs="+", help="exported model directories (one per TFLite variant)")
    parser.add_argument("--holdout", required=True, help="face folder the model was not trained on (parity)")
    parser.add_argument("--holdout-faces", type=int, default=64, help="held-out faces used (default 64)")
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds over all directories (default 7)")
    parser.add_argument("--calls", type=int, default=40, help="one-face calls per directory per round (default 40)")
    parser.add_argument("--direction", default="a2b", choices=DIRECTIONS, help="direction timed (default a2b)")
    args = parser.parse_args(argv)

    load_before = [round(value, 2) for value in os.getloadavg()]
    single = RuntimeSettings(num_threads=1)
    models = {str(path): load_swap_model(path, "tflite", single) for path in args.model_dirs}
    sizes = {model.input_size for model in models.values()}
    if len(sizes) != 1:
        raise SystemExit(f"compare variants of one model: input sizes differ ({sorted(sizes)})")
    first = next(iter(models.values()))
    faces = holdout_faces(args.holdout, first.layout, args.holdout_faces)
    timings = time_rounds(models, faces, args.rounds, args.calls, args.direction)
    results = []
    for path, model in models.items():
        reference = load_swap_model(path, "savedmodel")
        tflite = Path(path) / model.manifest["directions"][args.direction]["tflite"]
        results.append({"model_dir": path, "config": model.manifest.get("config"),
                        "iterations": model.manifest.get("iterations"),
                        "quantization": model.manifest.get("tflite_quantization", "dynamic"),
                        "tflite_mb": round(tflite.stat().st_size / 1e6, 2),
                        "precision": tflite_precision(tflite),
                        **timings[path], "parity_vs_keras": parity(model, reference, faces)})
    print(json.dumps({"benchmark": "model_variants", "input_size": sizes.pop(), "holdout": args.holdout,
                      "holdout_faces": int(len(faces)), "threads": 1, "direction_timed": args.direction,
                      "rounds": args.rounds, "calls_per_round": args.calls, "cpu_count": os.cpu_count(),
                      "machine": platform.machine(), "load_average_before": load_before,
                      "load_average_after": [round(value, 2) for value in os.getloadavg()],
                      "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
