"""Small-face pass benchmark: what the tiled second pass of FaceDetector costs on a frame in which
the whole-frame pass finds nothing (the only frames that pay it), at 640x480, 1080p and 4K, next
to the whole-frame pass alone; plus the time to find the 48 px face of the shared 1080p case, in
that frame and placed in a 4K frame, searching all tiles and (``FaceFollower``, the next frame of
a video) the one tile around where it was.
The two configurations run in interleaved rounds on the same frames. Prints one JSON object
with the load average before and after (2 shared cores: compare within one run).

    .venv/bin/python scripts/benchmarks/small_face_benchmark.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from faceswap.faces.detection import DetectionSettings, FaceDetector, FaceFollower  # noqa: E402
from faceswap.images import read_image  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "data"
SIZES = {"640x480": (640, 480), "1080p": (1920, 1080), "4K": (3840, 2160)}


def _timed(detector, frame: np.ndarray) -> tuple[float, int, float]:
    """(wall ms, faces found, process CPU ms: all threads, less sensitive to a busy machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    faces = detector.detect(frame)
    return (time.perf_counter() - started) * 1000.0, len(faces), (time.process_time() - cpu) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per frame size (default 5)")
    parser.add_argument("--still", default="s23", help="shared still without a face, scaled to each size")
    args = parser.parse_args(argv)

    load_start = os.getloadavg()
    faceless = read_image(SHARED / "stills" / f"{args.still}.jpg")
    with FaceDetector() as tiled, FaceDetector(DetectionSettings(small_faces=False)) as whole:
        report: dict = {"still": args.still, "rounds": args.rounds, "frames": {}}
        for name, (width, height) in SIZES.items():
            frame = cv2.resize(faceless, (width, height), interpolation=cv2.INTER_CUBIC)
            _timed(tiled, frame), _timed(whole, frame)  # warm-up
            times: dict[str, list[float]] = {"whole_frame_only": [], "with_small_face_pass": []}
            cpu: dict[str, list[float]] = {"whole_frame_only": [], "with_small_face_pass": []}
            found = 0
            for _ in range(args.rounds):
                for key, detector in (("whole_frame_only", whole), ("with_small_face_pass", tiled)):
                    milliseconds, faces, cpu_ms = _timed(detector, frame)
                    times[key].append(milliseconds)
                    cpu[key].append(cpu_ms)
                    found += faces
            medians = {key: round(float(np.median(values)), 1) for key, values in times.items()}
            cpu_medians = {key: round(float(np.median(values)), 1) for key, values in cpu.items()}
            report["frames"][name] = {
                "tiles": len(tiled.tiles(width, height)), "median_ms": medians, "median_cpu_ms": cpu_medians,
                "extra_ms_per_faceless_frame": round(medians["with_small_face_pass"] - medians["whole_frame_only"], 1),
                "extra_cpu_ms_per_faceless_frame": round(cpu_medians["with_small_face_pass"]
                                                         - cpu_medians["whole_frame_only"], 1),
                "faces_found": found}
        case = read_image(SHARED / "cases" / "small_face_1080p_48px.jpg")
        case_4k = cv2.copyMakeBorder(case, 540, 540, 960, 960, cv2.BORDER_REPLICATE)
        for name, frame in (("case_1080p_48px", case), ("case_48px_in_4K", case_4k)):
            times = [_timed(tiled, frame) for _ in range(args.rounds)]
            follower = FaceFollower(tiled)
            follower.detect(frame)
            followed = [_timed(follower, frame) for _ in range(args.rounds)]
            report[name] = {"all_tiles_median_ms": round(float(np.median([t[0] for t in times])), 1),
                            "followed_median_ms": round(float(np.median([t[0] for t in followed])), 1),
                            "all_tiles_median_cpu_ms": round(float(np.median([t[2] for t in times])), 1),
                            "followed_median_cpu_ms": round(float(np.median([t[2] for t in followed])), 1),
                            "faces_found": [t[1] for t in times + followed]}
    report["cpu_count"] = os.cpu_count()
    report["load_average"] = {"start": [round(v, 2) for v in load_start],
                              "end": [round(v, 2) for v in os.getloadavg()]}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
