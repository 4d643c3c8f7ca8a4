"""Benchmark of the per-frame swap pipeline (FrameSwapper) on 640x480 frames of a shared clip.

Frames are fitted into 640x480 keeping their aspect ratio (d9 is 512x480: 64 px of repeated
border on each side). Prints one JSON object: milliseconds per frame, p50 and p95, for each stage (detect, align,
model, blend, total), for the live path (a per-stream FaceTracker + landmark smoothing, as the
prediction routine runs it) and for per-frame detection (FaceDetector, as stills are handled).
The live target is total <= 20 ms per 640x480 frame on 2 CPU cores with the default model.

    .venv/bin/python scripts/benchmarks/swap_benchmark.py models/default --clip d9 --frames 120
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
os.environ.setdefault("GLOG_minloglevel", "2")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from faceswap.conversion.video_io import read_frames  # noqa: E402
from faceswap.swapping.frame_swapper import STAGES, FrameSwapper, SwapSettings  # noqa: E402

SHARED_DATA = Path(os.environ.get("FACESWAP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
FRAME_SIZE = (640, 480)


def fit_to_frame(frame: np.ndarray, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """Scale a BGR uint8 frame into ``size`` (width, height) keeping its aspect ratio; the sides are
    filled by repeating the border (stretching would distort faces and upset the detector)."""
    width, height = size
    scale = min(width / frame.shape[1], height / frame.shape[0])
    scaled = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    top, left = (height - scaled.shape[0]) // 2, (width - scaled.shape[1]) // 2
    return cv2.copyMakeBorder(scaled, top, height - scaled.shape[0] - top, left, width - scaled.shape[1] - left,
                              cv2.BORDER_REPLICATE)


def load_frames(clip: str, count: int) -> list[np.ndarray]:
    """The first ``count`` frames of ../shared/data/clips/<clip>.mp4 fitted into 640x480, BGR uint8."""
    path = SHARED_DATA / "clips" / f"{clip}.mp4"
    frames = []
    for frame in read_frames(path):
        frames.append(fit_to_frame(frame))
        if len(frames) >= count:
            break
    if not frames:
        raise SystemExit(f"no frames read from {path}")
    return frames


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(array, 50)), 2), "p95": round(float(np.percentile(array, 95)), 2),
            "mean": round(float(array.mean()), 2)}


def run(swapper: FrameSwapper, frames: list[np.ndarray], direction: str, warmup: int, live: bool) -> dict:
    """Time every frame; the first ``warmup`` frames (graph and interpreter warm-up) are not counted."""
    from faceswap.faces.detection import FaceTracker
    from faceswap.faces.smoothing import LandmarkSmoother

    tracker = FaceTracker() if live else None
    smoother = LandmarkSmoother() if live else None
    timings: dict[str, list[float]] = {stage: [] for stage in STAGES}
    faces = []
    fps = 30.0
    try:
        for index, frame in enumerate(frames):
            result = swapper.swap_frame(frame, direction, smoother=smoother, timestamp_s=index / fps, detector=tracker)
            if index < warmup:
                continue
            faces.append(result.faces)
            for stage in STAGES:
                timings[stage].append(result.timings_ms[stage])
    finally:
        if tracker is not None:
            tracker.close()
    return {
        "frames": len(faces),
        "frames_with_faces": int(sum(1 for count in faces if count > 0)),
        "ms": {stage: percentiles(values) for stage, values in timings.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="exported model directory (e.g. models/default)")
    parser.add_argument("--clip", default="d9", help="shared clip name (default d9, webcam-like)")
    parser.add_argument("--frames", type=int, default=120, help="frames timed per mode (default 120)")
    parser.add_argument("--warmup", type=int, default=10, help="frames run before timing (default 10)")
    parser.add_argument("--backend", default="tflite", help="model runtime backend (default tflite)")
    parser.add_argument("--direction", default="a2b", choices=("a2b", "b2a"))
    parser.add_argument("--color", default="reinhard")
    parser.add_argument("--blend", default="feather")
    args = parser.parse_args(argv)

    from faceswap.faces.detection import FaceDetector
    from faceswap.model.runtime import load_swap_model

    frames = load_frames(args.clip, args.frames + args.warmup)
    started = time.perf_counter()
    model = load_swap_model(args.model_dir, backend=args.backend)
    load_seconds = time.perf_counter() - started
    settings = SwapSettings(color=args.color, blend=args.blend)
    with FaceDetector() as detector:
        swapper = FrameSwapper(model, detector, settings)
        live = run(swapper, frames, args.direction, args.warmup, live=True)
        per_frame = run(swapper, frames, args.direction, args.warmup, live=False)
    report = {
        "benchmark": "frame_swapper",
        "model_dir": str(args.model_dir),
        "backend": args.backend,
        "model_input_size": int(model.input_size),
        "clip": f"{args.clip}.mp4 (fitted into 640x480, aspect kept)",
        "frame_size": list(FRAME_SIZE),
        "color": args.color,
        "blend": args.blend,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "model_load_s": round(load_seconds, 2),
        "target_total_ms": 20.0,
        "live_tracker": live,
        "per_frame_detector": per_frame,
        "live_meets_target": live["ms"]["total"]["p50"] <= 20.0,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
