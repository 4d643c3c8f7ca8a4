"""Extraction benchmark: frames per second of `extract` (detect, landmarks, align, write PNG)
on a shared clip, plus the detector alone per 640x480 frame (per-frame FaceDetector and the
per-stream FaceTracker of the live path). Prints one JSON object.

    .venv/bin/python scripts/benchmarks/extraction_benchmark.py --clip d9 --frames 120
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from faceswap.conversion.video_io import read_frames  # noqa: E402
from faceswap.extraction.extract import ExtractSettings, extract_faces  # noqa: E402
from faceswap.faces.detection import FaceDetector, FaceTracker  # noqa: E402

SHARED_CLIPS = REPO_ROOT.parent / "shared" / "data" / "clips"


def _percentiles(values: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "mean_ms": round(float(np.mean(values)), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="d9", help="shared clip name (default d9)")
    parser.add_argument("--frames", type=int, default=120, help="frames to extract and time (default 120)")
    args = parser.parse_args(argv)
    clip = SHARED_CLIPS / f"{args.clip}.mp4"

    detector = FaceDetector()
    with tempfile.TemporaryDirectory() as output:
        report = extract_faces([clip], Path(output) / "faces", ExtractSettings(max_frames=args.frames),
                               detector=detector, progress=False)

    frames = []
    for frame in read_frames(clip):
        frames.append(cv2.resize(frame, (640, 480)))
        if len(frames) >= args.frames:
            break
    for frame in frames[:5]:
        detector.detect(frame)
    per_frame = []
    for frame in frames:
        started = time.perf_counter()
        detector.detect(frame)
        per_frame.append((time.perf_counter() - started) * 1000)
    tracker = FaceTracker()
    tracked = []
    for frame in frames:
        started = time.perf_counter()
        tracker.detect(frame)
        tracked.append((time.perf_counter() - started) * 1000)
    tracker.close()
    print(json.dumps({
        "benchmark": "extraction",
        "clip": clip.name,
        "extract_frames": report.frames,
        "extract_faces": report.faces_written,
        "extract_frames_per_second": round(report.frames_per_second, 2),
        "detector_640x480": _percentiles(per_frame),
        "tracker_640x480": _percentiles(tracked[5:]),
        "cpu_count": os.cpu_count(),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
