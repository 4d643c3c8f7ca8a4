"""Merge-stage benchmark (issue 8): what each merge setting costs per frame, and the colour bounds
on the faces real users send. Prints one JSON object.

    .venv/bin/python scripts/benchmarks/merge_benchmark.py --model-dir models/default --frames 30 --rounds 5

* ``cost``: CPU milliseconds of the process per 640x480 frame (d9, the webcam-like clip,
  cover-cropped) in FrameSwapper's ``align``, ``colour`` and ``blend`` stages (``SwapResult.cpu_ms``;
  CPU time, so a busy machine's waiting does not count) — the stages the merge settings change —
  for the old merge (bilinear, Reinhard, no sharpening, no mouth or eye region, mask from the smoothed
  landmarks), each new setting alone, and the new defaults. Faces are detected once; the
  configurations run interleaved, round after round, so a noisy machine hits them alike.
* ``colour``: for ../shared/data/cases/{overexposed_face,red_stage_light,very_dark_face}.png, each
  colour mode with real faces of other people (the sample stills) as the model's output: the worst
  share of skin with a hue flipped > 90 degrees and of skin clipped, in points over the input's own
  (the bounds: 0 and 1 point; faceswap.swapping.color_transfer.hue_flip_share / clipped_share).

* ``ceiling``: the pass-through ceiling (faceswap.evaluation: a "model" returning its input crop;
  variance of the Laplacian in the inner face, output / input, median) of each configuration,
  lossless, on ``--ceiling-frames`` frames spread over each of ``--ceiling-clips``.

The full measures (identity, expression, encoded detail) are quality_benchmark.py's, which takes
the same swap options (see docs/merge-settings.md).
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
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT, align_face, transform_points  # noqa: E402
from faceswap.faces.detection import FaceDetector  # noqa: E402
from faceswap.faces.masks import face_mask  # noqa: E402
from faceswap.images import read_image  # noqa: E402
from faceswap.model.runtime import load_swap_model  # noqa: E402
from faceswap.swapping.color_transfer import (COLOR_MODES, clipped_share, hue_flip_share,  # noqa: E402
                                              statistics_mask, transfer_color)
from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings  # noqa: E402
from sample_frames import SHARED_DATA, cover_crop  # noqa: E402

OLD_MERGE = dict(color="reinhard", align_interpolation="linear", paste_interpolation="linear", sharpen=0.0,
                 mouth=False, eyes=False, mask_landmarks="smoothed")
CONFIGURATIONS = {
    "old merge": OLD_MERGE,
    "+ illuminant colour (skin statistics)": {**OLD_MERGE, "color": "illuminant"},
    "+ bicubic align and paste": {**OLD_MERGE, "align_interpolation": "cubic", "paste_interpolation": "cubic"},
    "+ lanczos paste": {**OLD_MERGE, "paste_interpolation": "lanczos"},
    "+ area align": {**OLD_MERGE, "align_interpolation": "area"},
    "+ sharpen 0.25": {**OLD_MERGE, "sharpen": 0.25},
    "new defaults without sharpening": {"sharpen": 0.0},
    "+ mouth region": {**OLD_MERGE, "mouth": True},
    "new defaults": {},
    "new defaults without the mouth region": {"mouth": False},
    "new defaults without the closed-eye region": {"eyes": False},
}
CASES = ("overexposed_face", "red_stage_light", "very_dark_face")
DONORS = ("s0", "s1", "s3", "s4", "s5", "s8", "s9", "s10", "s12")


class _KnownFaces:
    def __init__(self, faces: list) -> None:
        self.faces = faces

    def detect(self, frame: np.ndarray) -> list:
        return self.faces


def _frames(clip: str, count: int) -> list[np.ndarray]:
    from faceswap.conversion.video_io import read_frames

    frames = []
    for frame in read_frames(SHARED_DATA / "clips" / f"{clip}.mp4"):
        frames.append(cover_crop(frame))
        if len(frames) >= count:
            break
    return frames


def measure_cost(model, detector, frames: list[np.ndarray], rounds: int) -> dict:
    """p50 / p95 CPU ms of align + colour + blend per frame for each configuration, interleaved."""
    faces = [detector.detect(frame) for frame in frames]
    swappers = {name: FrameSwapper(model, detector, SwapSettings(mark=False, force_mark=False, **settings))
                for name, settings in CONFIGURATIONS.items()}
    samples: dict[str, list[float]] = {name: [] for name in swappers}
    for _ in range(rounds):
        for name, swapper in swappers.items():
            for frame, found in zip(frames, faces):
                if not found:
                    continue
                result = swapper.swap_frame(frame, "a2b", detector=_KnownFaces(found[:1]), measure_cpu=True)
                samples[name].append(sum(result.cpu_ms.get(stage, 0.0) for stage in ("align", "colour", "warp", "blend")))
    return {name: {"merge_cpu_ms_p50": round(float(np.percentile(values, 50)), 3),
                   "merge_cpu_ms_p95": round(float(np.percentile(values, 95)), 3)}
            for name, values in samples.items()}


def _spread_frames(clip: str, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over ../shared/data/clips/<clip>.mp4, BGR uint8 as stored."""
    from faceswap.conversion.video_io import probe_video, read_frames

    path = SHARED_DATA / "clips" / f"{clip}.mp4"
    total = probe_video(path).frame_count or count
    wanted = set(np.linspace(0, max(total - 1, 0), count).astype(int).tolist())
    return [frame for index, frame in enumerate(read_frames(path)) if index in wanted]


def measure_ceiling(detector, clips: list[str], count: int) -> dict:
    """Median pass-through detail ratio (lossless) per configuration and clip."""
    from faceswap.evaluation.detail import inner_face_mask, laplacian_variance
    from faceswap.evaluation.passthrough import PassThroughModel

    model = PassThroughModel(CLASSIC_MODEL_LAYOUT)
    report: dict[str, dict[str, float]] = {name: {} for name in CONFIGURATIONS}
    for clip in clips:
        found = [(frame, detector.detect(frame)) for frame in _spread_frames(clip, count)]
        found = [(frame, faces[0]) for frame, faces in found if faces]
        for name, settings in CONFIGURATIONS.items():
            swapper = FrameSwapper(model, detector, SwapSettings(mark=False, force_mark=False, **settings))
            ratios = []
            for frame, face in found:
                output = swapper.swap_frame(frame, "a2b", detector=_KnownFaces([face])).frame
                inner = inner_face_mask(face.landmarks, frame.shape)
                ratios.append(laplacian_variance(output, inner) / laplacian_variance(frame, inner))
            report[name][clip] = round(float(np.median(ratios)), 3) if ratios else None
    return report


def _aligned(detector, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = read_image(path)
    face = detector.detect(image)[0]
    crop, matrix = align_face(image, face.landmarks, CLASSIC_MODEL_LAYOUT)
    landmarks = transform_points(face.landmarks, matrix)
    mask = face_mask(landmarks, CLASSIC_MODEL_LAYOUT.size)
    return crop.astype(np.float32) / 255.0, statistics_mask(landmarks, mask), mask


def measure_colour(detector) -> dict:
    """Worst flipped / clipped skin (points over the input) per case and colour mode."""
    donors = [_aligned(detector, SHARED_DATA / "stills" / f"{name}.jpg") for name in DONORS]
    report = {}
    for case in CASES:
        original, statistics, _ = _aligned(detector, SHARED_DATA / "cases" / f"{case}.png")
        report[case] = {}
        for mode in COLOR_MODES:
            flips, clipped = [], []
            for donor, donor_statistics, _ in donors:
                skin = statistics * donor_statistics
                result = transfer_color(donor, original, statistics, mode)
                flips.append(hue_flip_share(result, original, skin) - hue_flip_share(original, original, skin))
                clipped.append(clipped_share(result, skin) - clipped_share(original, skin))
            report[case][mode] = {"flipped_points_over_input_worst": round(100 * max(flips), 2),
                                  "clipped_points_over_input_worst": round(100 * max(clipped), 2)}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=str(REPO_ROOT / "models" / "default"))
    parser.add_argument("--clip", default="d9", help="clip of ../shared/data/clips for the cost part")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ceiling-clips", default="d12,d18,d9,d3,d0,d11,d13,d20",
                        help="clips for the lossless pass-through ceiling ('' = skip)")
    parser.add_argument("--ceiling-frames", type=int, default=12, help="frames spread over each clip")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_before = list(os.getloadavg())
    detector = FaceDetector()
    report = {
        "cpu_count": os.cpu_count(),
        "load_average_start": [round(value, 2) for value in load_before],
        "colour": measure_colour(detector),
        "cost": measure_cost(load_swap_model(args.model_dir), detector, _frames(args.clip, args.frames), args.rounds),
        "ceiling": measure_ceiling(detector, [clip for clip in args.ceiling_clips.split(",") if clip],
                                   args.ceiling_frames),
        "clip": args.clip, "frames": args.frames, "rounds": args.rounds, "frame_size": [640, 480],
    }
    report["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
