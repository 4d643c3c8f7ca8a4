"""Cost of the XMP digital source type on merged live frames (faceswap.provenance.frame_metadata).

Times, interleaved in rounds on the same real 640x480 frames (d9, JPEG quality 85):
``encode`` (encode_jpeg alone, as the routine did before) and ``encode+xmp`` (encode_jpeg then
add_frame_metadata, as the routine does now), plus ``xmp`` alone. Prints JSON with per-frame
medians / p95 in ms and the load average (the 2 cores are shared and noisy). Target: xmp < 0.5 ms.

    .venv/bin/python scripts/benchmarks/frame_metadata_benchmark.py [--frames 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from faceswap.images import decode_image, encode_jpeg  # noqa: E402
from faceswap.provenance.frame_metadata import add_frame_metadata  # noqa: E402
from scripts.benchmarks.sample_frames import clip_jpegs  # noqa: E402

QUALITY = 85


def _time_ms(function, items) -> list[float]:
    samples = []
    for item in items:
        started = time.perf_counter()
        function(item)
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    frames = [decode_image(jpeg) for jpeg in clip_jpegs("d9", args.frames, QUALITY)]
    encoded = [encode_jpeg(frame, QUALITY) for frame in frames]
    load_start = os.getloadavg()
    samples: dict[str, list[float]] = {"encode": [], "encode+xmp": [], "xmp": []}
    for _ in range(args.rounds):
        samples["encode"] += _time_ms(lambda frame: encode_jpeg(frame, QUALITY), frames)
        samples["encode+xmp"] += _time_ms(lambda frame: add_frame_metadata(encode_jpeg(frame, QUALITY)), frames)
        samples["xmp"] += _time_ms(add_frame_metadata, encoded)
    report = {
        "frames": len(frames), "rounds": args.rounds, "frame_size": [640, 480], "jpeg_quality": QUALITY,
        "jpeg_bytes_median": int(np.median([len(jpeg) for jpeg in encoded])),
        "added_bytes": len(add_frame_metadata(encoded[0])) - len(encoded[0]),
        "ms": {name: {"median": round(float(np.median(values)), 4), "p95": round(float(np.percentile(values, 95)), 4)}
               for name, values in samples.items()},
        "target_ms": 0.5,
        "load_average": {"start": [round(v, 2) for v in load_start], "end": [round(v, 2) for v in os.getloadavg()]},
        "cpu_count": os.cpu_count(),
    }
    report["xmp_under_target"] = report["ms"]["xmp"]["p95"] < report["target_ms"]
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
