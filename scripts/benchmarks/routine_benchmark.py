"""Benchmark of the prediction routine: predict latency per 640x480 frame, in-process and through
the local prediction server.

Frames come from a shared clip (../shared/data/clips), scaled to cover 640x480 and centre-cropped,
JPEG-encoded as the browser would send them. Each frame is one ``predict`` call with one instance
(the live path: a ``stream_id``, so per-stream face tracking and smoothing are on).

- ``in_process``: ``ModelPrediction.from_path(model_dir).predict([instance])`` — wall time of the
  call (base64, decode, detect, align, model, blend, encode) and the per-stage timings it reports;
- ``server``: the same through ``prediction_routine/server.py`` under gunicorn on a free loopback
  port, called with websocket_server/prediction_client.py (google-api-python-client): round-trip
  time, plus the server-side stage timings.

Prints one JSON object: p50/p95/mean in ms per stage; in-process also the **CPU ms per frame** of
every stage (FACESWAP_ROUTINE_REPORT_CPU) next to the process CPU measured around the loop, and the
memory of held stream states (``--hold-streams`` streams, resident MB per stream and in all). The
process runs with one thread per native library, as a prediction worker does
(prediction_routine/native_threads.py). Goal: in-process total p50 <= 20 ms with the default model. Several model directories (configs) and both backends can be compared in one run.

    .venv/bin/python scripts/benchmarks/routine_benchmark.py models/default --frames 120
    .venv/bin/python scripts/benchmarks/routine_benchmark.py models/default workspace/lite-model \\
        --backend tflite --backend savedmodel --no-server
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from prediction_routine.native_threads import limit_native_threads, limit_opencv_threads  # noqa: E402

limit_native_threads()   # before numpy loads: measure what a prediction worker does

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from prediction_routine.instances import TIMING_STAGES  # noqa: E402
from scripts.benchmarks.sample_frames import FRAME_SIZE, clip_jpegs  # noqa: E402
from websocket_server.prediction_client import PredictionClient, client_settings, make_instance  # noqa: E402

TARGET_P50_MS = 20.0


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(array, 50)), 2), "p95": round(float(np.percentile(array, 95)), 2),
            "mean": round(float(array.mean()), 2)}


def summarise(walls: list[float], predictions: list[dict], wall_name: str) -> dict:
    stages = {stage: percentiles([p["timings_ms"][stage] for p in predictions]) for stage in TIMING_STAGES}
    return {"frames": len(predictions), "frames_with_faces": sum(1 for p in predictions if p["faces"] > 0),
            "errors": sorted({p["error"] for p in predictions if p["error"]}),
            wall_name: percentiles(walls), "stages_ms": stages}


def time_calls(call, jpegs: list[bytes], warmup: int, direction: str, label: str, cpu_ms: list | None = None):
    """Call ``call([instance])`` per frame; the first ``warmup`` calls are not counted. With ``cpu_ms``
    a list, the process CPU ms of the counted calls is appended to it."""
    walls, predictions = [], []
    cpu_started = None
    for index, jpeg in enumerate(tqdm(jpegs, desc=label, unit="frame", file=sys.stderr)):
        instance = make_instance(jpeg, direction, stream_id="benchmark")
        if index == warmup:
            cpu_started = time.process_time()
        started = time.perf_counter()
        [prediction] = call([instance])
        elapsed = (time.perf_counter() - started) * 1000.0
        if index >= warmup:
            walls.append(elapsed)
            predictions.append(prediction)
    if cpu_ms is not None and cpu_started is not None:
        cpu_ms.append((time.process_time() - cpu_started) * 1000.0)
    return walls, predictions


def stage_cpu(predictions: list[dict], process_cpu_ms: float) -> dict:
    """Mean CPU ms per frame of every reported stage (``cpu_*``), their sum and its share of the
    process CPU per frame measured around the calls (the rest: the benchmark's own loop)."""
    stages = {name[len("cpu_"):]: round(float(np.mean([p["timings_ms"][name] for p in predictions])), 3)
              for name in sorted(predictions[0]["timings_ms"]) if name.startswith("cpu_")}
    per_frame = process_cpu_ms / len(predictions)
    return {"stages": stages, "sum": round(sum(stages.values()), 2), "measured_process": round(per_frame, 2),
            "accounted_share": round(sum(stages.values()) / per_frame, 3) if per_frame else None}


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def held_streams_memory(routine, jpegs: list[bytes], streams: int, direction: str) -> dict:
    """Resident memory of the routine before and after ``streams`` streams each sent a few frames
    (so each holds its smoother and face tracker)."""
    before = resident_mb()
    for frame in range(3):
        for stream in range(streams):
            routine.predict([make_instance(jpegs[(frame + 7 * stream) % len(jpegs)], direction,
                                           stream_id=f"held-{stream}")])
    after = resident_mb()
    return {"streams": streams, "rss_mb_before": round(before, 1), "rss_mb_held": round(after, 1),
            "mb_per_stream_state": round((after - before) / streams, 3)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir: str, backend: str, port: int, log_path: Path) -> subprocess.Popen:
    """The documented gunicorn command on ``port``; returns once /health answers 200."""
    command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "sync",
               "--no-control-socket", "prediction_routine.server:create_app()"]
    environment = {**os.environ, "MODEL_DIR": str(model_dir), "FACESWAP_ROUTINE_BACKEND": backend}
    log = open(log_path, "wb")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the prediction server exited ({process.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(process)
    raise SystemExit(f"the prediction server did not become healthy; see {log_path}")


def stop_server(process: subprocess.Popen) -> None:
    for number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, number)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def benchmark_config(model_dir: str, backend: str, jpegs: list[bytes], args) -> dict:
    from prediction_routine.predictor import ModelPrediction, RoutineSettings

    report: dict = {"model_dir": str(model_dir), "backend": backend}
    started = time.perf_counter()
    routine = ModelPrediction.from_path(str(model_dir), settings=RoutineSettings(backend=backend, report_cpu=True))
    report["model_load_s"] = round(time.perf_counter() - started, 2)
    cpu_ms: list[float] = []
    walls, predictions = time_calls(routine.predict, jpegs, args.warmup, args.direction, f"in-process {backend}",
                                    cpu_ms)
    report["in_process"] = summarise(walls, predictions, "predict_call_ms")
    report["in_process"]["stage_cpu_ms_per_frame"] = stage_cpu(predictions, cpu_ms[0])
    if args.hold_streams:
        report["in_process"]["held_streams"] = held_streams_memory(routine, jpegs, args.hold_streams, args.direction)
    report["in_process_meets_target"] = report["in_process"]["predict_call_ms"]["p50"] <= TARGET_P50_MS
    del routine
    if args.server:
        port = free_port()
        log_path = Path(args.log_dir) / f"routine-benchmark-server-{port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        process = start_server(model_dir, backend, port, log_path)
        try:
            client = PredictionClient(client_settings(environ={}, target="local", api_endpoint=f"http://127.0.0.1:{port}",
                                                      timeout_s=60, retries=0))
            walls, predictions = time_calls(client.predict, jpegs, args.warmup, args.direction, f"server {backend}")
            report["server"] = summarise(walls, predictions, "round_trip_ms")
        finally:
            stop_server(process)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dirs", nargs="*", default=[str(REPO_ROOT / "models" / "default")],
                        help="exported model directories to compare (default: models/default)")
    parser.add_argument("--backend", action="append", choices=("tflite", "savedmodel"),
                        help="model runtime(s) to time (repeatable; default tflite)")
    parser.add_argument("--clip", default="d9", help="shared clip name (default d9, webcam-like)")
    parser.add_argument("--frames", type=int, default=100, help="frames timed per configuration (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="calls made before timing (default 10)")
    parser.add_argument("--direction", default="a2b", choices=("a2b", "b2a"))
    parser.add_argument("--jpeg-quality", type=int, default=80, help="quality of the frames sent (default 80)")
    parser.add_argument("--server", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the local prediction server under gunicorn (default on)")
    parser.add_argument("--hold-streams", type=int, default=16, help="streams held at once for the memory figure "
                                                                    "(default 16; 0: skip)")
    parser.add_argument("--log-dir", default=str(REPO_ROOT / "workspace" / "benchmarks"),
                        help="where the server's log goes")
    args = parser.parse_args(argv)
    limit_opencv_threads()

    jpegs = clip_jpegs(args.clip, args.frames + args.warmup, args.jpeg_quality)
    results = [benchmark_config(model_dir, backend, jpegs, args)
               for model_dir in args.model_dirs for backend in (args.backend or ["tflite"])]
    report = {
        "benchmark": "prediction_routine",
        "clip": f"{args.clip}.mp4",
        "frame_size": list(FRAME_SIZE),
        "frame_jpeg_bytes_mean": int(np.mean([len(jpeg) for jpeg in jpegs])),
        "frames_timed": args.frames,
        "cpu_count": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "machine": platform.machine(),
        "target_in_process_p50_ms": TARGET_P50_MS,
        "results": results,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
