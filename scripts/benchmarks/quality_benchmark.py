"""Quality benchmark: swap quality metrics of a model on real clips, printed as JSON.

    python scripts/benchmarks/quality_benchmark.py --model-dir models/default \
        --side-a workspace/default/faces_a --side-b workspace/default/faces_b \
        --holdout-b workspace/default/holdout_b ../shared/data/clips/d12.mp4 ../shared/data/clips/d18.mp4

Metrics are defined in faceswap/evaluation/quality.py (face kept, landmark error, LBPH identity
proxy, flicker ratio, B -> B reconstruction SSIM on held-out faces).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

from faceswap.evaluation.quality import QualitySettings, evaluate_clip  # noqa: E402
from faceswap.faces.detection import FaceDetector  # noqa: E402
from faceswap.model.runtime import load_swap_model  # noqa: E402
from faceswap.settings import add_dataclass_arguments, settings_from  # noqa: E402
from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", help="video clips to convert and measure")
    parser.add_argument("--model-dir", required=True, help="exported model directory")
    parser.add_argument("--side-a", nargs="+", required=True, help="face folders of side A (recogniser training)")
    parser.add_argument("--side-b", nargs="+", required=True, help="face folders of side B (recogniser training)")
    parser.add_argument("--holdout-b", help="face folder of held-out B faces (reconstruction SSIM)")
    parser.add_argument("--output", help="also write the JSON to this file")
    add_dataclass_arguments(parser, QualitySettings)
    args = parser.parse_args(argv)
    settings = settings_from(QualitySettings, args, env_prefix="FACESWAP_QUALITY_")
    model = load_swap_model(args.model_dir)
    detector = FaceDetector()
    swapper = FrameSwapper(model, settings=SwapSettings(mark=False, force_mark=False))
    results = {"model_dir": str(args.model_dir), "model": model.manifest.get("config", {}), "clips": []}
    for index, clip in enumerate(args.clips):
        results["clips"].append(evaluate_clip(clip, model, swapper, [Path(p) for p in args.side_a],
                                              [Path(p) for p in args.side_b],
                                              args.holdout_b if index == 0 else None, settings, detector,
                                              progress=sys.stderr.isatty()))
    if args.holdout_b:
        results["reconstruction_ssim"] = results["clips"][0].pop("reconstruction_ssim")
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
