"""Training and inference benchmark of the autoencoder configs. Prints one JSON object.

- ``model``: parameters and multiply-accumulates per face for every config;
- ``training``: iterations/s at batch 16 per side for ``original`` and ``lite`` with
    * ``step_only``: the compiled train step alone on ready-made batches (the plain baseline),
    * ``inline``: augmentation of real faces in the training loop, then the step,
    * ``prefetch``: augmentation in the trainer's background thread, overlapped with the step
      (what ``python -m faceswap train`` does),
  plus variants measured on ``lite``: TensorFlow thread settings and bfloat16 mixed precision;
  each measurement runs in its own process (thread settings and precision are process-wide),
  reports the best and the median of several timed chunks after warm-up (the machine is shared);
- ``inference``: ms per face at batch 1 for Keras (compiled), the SavedModel and the TFLite
  int8 export of the ``lite`` config (weights are random: speed does not depend on them).

    .venv/bin/python scripts/benchmarks/training_benchmark.py              # everything (~10 min)
    .venv/bin/python scripts/benchmarks/training_benchmark.py --quick      # lite only, fewer steps
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

VARIANTS = {
    "default": {},
    "threads_intra2_inter1": {"intra": 2, "inter": 1},
    "threads_intra1_inter2": {"intra": 1, "inter": 2},
    "mixed_bfloat16": {"bf16": True},
}


def _summary(seconds_per_step: list[float]) -> dict:
    rates = [1.0 / s for s in seconds_per_step]
    return {"best_it_per_s": round(max(rates), 3), "median_it_per_s": round(statistics.median(rates), 3)}


def _face_folders(work: Path, args) -> tuple[Path, Path]:
    """Real face folders: the ones given, else a few faces extracted from d9 and d12."""
    if args.faces_a and args.faces_b:
        return Path(args.faces_a), Path(args.faces_b)
    from faceswap.export.test_model import shared_clip
    from faceswap.extraction.extract import ExtractSettings, extract_faces

    settings = ExtractSettings(every_n_frames=4, max_frames=24)
    for side, clip in (("a", "d9"), ("b", "d12")):
        if not (work / f"faces_{side}" / "faces.json").is_file():
            extract_faces([shared_clip(clip)], work / f"faces_{side}", settings, progress=False)
    return work / "faces_a", work / "faces_b"


def training_worker(args) -> dict:
    """One training measurement in this process: config x variant, all three pipelines."""
    import tensorflow as tf

    variant = VARIANTS[args.variant]
    if "intra" in variant:
        tf.config.threading.set_intra_op_parallelism_threads(variant["intra"])
        tf.config.threading.set_inter_op_parallelism_threads(variant["inter"])
    import keras

    if variant.get("bf16"):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    from faceswap.model.architecture import build_autoencoders, get_config
    from faceswap.training.augmentation import AugmentSettings
    from faceswap.training.dataset import BatchMaker, BatchPrefetcher, load_face_set
    from faceswap.training.losses import LossSettings
    from faceswap.training.train_step import make_train_step
    from faceswap.training.trainer import TrainSettings, make_optimizer, trainable_variables

    config = get_config(args.config)
    folder_a, folder_b = Path(args.faces_a), Path(args.faces_b)
    face_sets = [load_face_set(side, [folder], config.layout, progress=False)
                 for side, folder in (("a", folder_a), ("b", folder_b))]
    makers = tuple(BatchMaker(face_set, args.batch_size, 0, AugmentSettings()) for face_set in face_sets)
    networks = build_autoencoders(config)
    optimizer = make_optimizer(TrainSettings())
    optimizer.build(trainable_variables(networks))
    step = make_train_step(networks, optimizer, LossSettings())

    def run(batch_a, batch_b):
        loss_a, _ = step(batch_a.warped, batch_a.target, batch_a.mask, batch_a.eyes_mouth,
                         batch_b.warped, batch_b.target, batch_b.mask, batch_b.eyes_mouth)
        float(loss_a)

    ready = [maker.batch(0) for maker in makers]
    for _ in range(args.warmup):
        run(*ready)
    result = {"config": config.name, "variant": args.variant, "batch_per_side": args.batch_size,
              "faces": [len(face_set) for face_set in face_sets]}

    def chunk(pipeline, first: int) -> float:
        started = time.perf_counter()
        for iteration in range(first, first + args.steps):
            pipeline(iteration)
        return (time.perf_counter() - started) / args.steps

    def prefetched(first: int) -> float:
        with BatchPrefetcher(makers, first, first + args.steps, depth=4) as batches:
            return chunk(lambda i: run(*batches.next()), first)

    # Rounds of (step only, inline, prefetch) so that all three see the same machine load.
    times: dict[str, list[float]] = {"step_only": [], "inline": [], "prefetch": []}
    first = 1
    for _ in range(args.chunks):
        times["step_only"].append(chunk(lambda i: run(*ready), first))
        times["inline"].append(chunk(lambda i: run(*(maker.batch(i) for maker in makers)), first))
        times["prefetch"].append(prefetched(first))
        first += args.steps
    for name, values in times.items():
        result[name] = _summary(values)
    started = time.perf_counter()
    for i in range(10):
        for maker in makers:
            maker.batch(1000 + i)
    result["augmentation_ms_per_iteration"] = round((time.perf_counter() - started) / 10 * 1000, 2)
    return result


def inference_worker(args) -> dict:
    """ms per face (batch 1) for Keras, SavedModel and TFLite int8 of one config."""
    import tensorflow as tf

    from faceswap.export.exporter import ExportSettings, export_model
    from faceswap.model.architecture import build_autoencoders, get_config
    from faceswap.model.runtime import RuntimeSettings, load_swap_model
    from faceswap.training.checkpoint import save_checkpoint
    from faceswap.training.trainer import TrainSettings, make_optimizer, trainable_variables

    config = get_config(args.config)
    networks = build_autoencoders(config)
    optimizer = make_optimizer(TrainSettings())
    optimizer.build(trainable_variables(networks))
    face = np.random.default_rng(0).random((1, config.input_size, config.input_size, 3), dtype=np.float32)
    result = {"config": config.name, "batch": 1}

    def per_call_ms(function) -> dict:
        for _ in range(5):
            function()
        times = []
        for _ in range(args.inference_calls):
            started = time.perf_counter()
            function()
            times.append((time.perf_counter() - started) * 1000)
        return {"p50_ms": round(float(np.percentile(times, 50)), 3), "best_ms": round(min(times), 3)}

    swap = networks.swap_model("a2b")
    compiled = tf.function(lambda x: swap(x, training=False),
                           input_signature=[tf.TensorSpec((None, config.input_size, config.input_size, 3))])
    result["keras"] = per_call_ms(lambda: compiled(face).numpy())
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "training").mkdir()
        save_checkpoint(Path(work) / "training", networks, optimizer, {"iteration": 0})
        export_model(Path(work) / "training", Path(work) / "export", ExportSettings(parity_faces=0))
        sizes = {p.name: p.stat().st_size for p in (Path(work) / "export").glob("*.tflite")}
        result["tflite_bytes"] = sizes.get("swap_a2b.tflite")
        saved = load_swap_model(Path(work) / "export", "savedmodel")
        result["savedmodel"] = per_call_ms(lambda: saved.swap(face, "a2b"))
        for threads in (1, 2):
            model = load_swap_model(Path(work) / "export", "tflite", RuntimeSettings(num_threads=threads))
            result[f"tflite_int8_threads{threads}"] = per_call_ms(lambda: model.swap(face, "a2b"))
    return result


def _in_subprocess(worker: str, extra: list[str]) -> dict:
    command = [sys.executable, __file__, "--worker", worker, *extra]
    process = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
    if process.returncode != 0:
        return {"error": process.stderr.decode(errors="replace").strip().splitlines()[-1:]}
    return json.loads(process.stdout.decode().strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="original,lite", help="configs to train (default original,lite)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="variants measured on lite")
    parser.add_argument("--batch-size", type=int, default=16, help="faces per side (default 16)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed chunk (default 5)")
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks per pipeline (default 3)")
    parser.add_argument("--inference-configs", default="lite", help="configs exported and timed (default lite)")
    parser.add_argument("--inference-calls", type=int, default=100, help="timed batch-1 calls (default 100)")
    parser.add_argument("--faces-a", help="face folder for side A (default: faces extracted from d9)")
    parser.add_argument("--faces-b", help="face folder for side B (default: faces extracted from d12)")
    parser.add_argument("--quick", action="store_true", help="lite only, default variant, 2 chunks")
    parser.add_argument("--worker", choices=("training", "inference"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "training":
        print(json.dumps(training_worker(args)))
        return 0
    if args.worker == "inference":
        print(json.dumps(inference_worker(args)))
        return 0

    if args.quick:
        args.configs, args.variants, args.chunks, args.inference_calls = "lite", "default", 2, 50
    from faceswap.model.architecture import CONFIGS, model_info

    report: dict = {"cpu_count": os.cpu_count(), "load_average_start": [round(x, 2) for x in os.getloadavg()],
                    "model": {name: model_info(name) for name in CONFIGS}}
    with tempfile.TemporaryDirectory() as work:
        folder_a, folder_b = _face_folders(Path(work), args)
        common = ["--faces-a", str(folder_a), "--faces-b", str(folder_b), "--batch-size", str(args.batch_size),
                  "--warmup", str(args.warmup), "--steps", str(args.steps), "--chunks", str(args.chunks)]
        training = []
        for config in args.configs.split(","):
            variants = args.variants.split(",") if config == "lite" else ["default"]
            for variant in variants:
                training.append(_in_subprocess("training", [*common, "--config", config, "--variant", variant]))
        report["training"] = training
    report["inference"] = [_in_subprocess("inference", ["--config", config, "--inference-calls",
                                                        str(args.inference_calls)])
                           for config in args.inference_configs.split(",")]
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
