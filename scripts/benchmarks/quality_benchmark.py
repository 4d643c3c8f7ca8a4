r"""Quality benchmark: how good a model's swaps are on real clips and stills, printed as JSON.

    .venv/bin/python scripts/benchmarks/quality_benchmark.py --model-dir models/default \
        --target ../shared/data/clips/d6.mp4 --target-first-frame 900 --max-frames 90 \
        --output benchmark-results/quality ../shared/data/clips/d12.mp4 ../shared/data/clips/d18.mp4

Identity (dlib's ResNet face descriptor against the target's mean descriptor), detail (variance of
the Laplacian, output / input and as a share of the pass-through ceiling), mouth / eye opening
correlation, head-pose error, landmark error, flicker and face kept, per clip; stills get the
per-frame measures. --target is a clip (with --target-first-frame for a held-out tail), a picture
or a folder of pictures of the target person (e.g. an extracted face folder). Measures are defined
in faceswap/evaluation/benchmark.py; docs/quality-benchmark.md explains them.

--output DIR writes DIR/quality.json, DIR/quality.md (a table) and one contact sheet PNG per clip. The swap pipeline's
options (--color, --blend, ...) are those of `convert`; --variant measures other swap settings
side by side in the same run (same frames, target and load). A clip that cannot be evaluated gets one
line on stderr and an "error" entry (the others are still measured; exit code 2); a model
directory that does not load or a target without a usable face stops the run with one line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

from faceswap.errors import FaceswapError  # noqa: E402
from faceswap.evaluation.benchmark import ENV_PREFIX, QualitySettings, evaluate_model_dir, swap_variant  # noqa: E402
from faceswap.settings import add_dataclass_arguments, settings_from  # noqa: E402
from faceswap.swapping.frame_swapper import SwapSettings  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("media", nargs="+", help="clips and stills (or folders of stills) to convert and measure")
    parser.add_argument("--model-dir", required=True, help="exported model directory (e.g. models/default)")
    parser.add_argument("--target", required=True,
                        help="the target person: a clip, a picture or a folder of pictures (e.g. extracted faces)")
    parser.add_argument("--output", help="folder for quality.json, quality.md and the contact sheets")
    parser.add_argument("--holdout-b", help="face folder of held-out B faces: also report B -> B reconstruction SSIM")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                        help="also measure these swap settings side by side (repeatable), e.g. "
                             "--variant no-sharpen:sharpen=0 --variant color=none; mask.erode, "
                             "mask.forehead and mask.feather set the face mask's shape")
    add_dataclass_arguments(parser.add_argument_group("benchmark"), QualitySettings)
    add_dataclass_arguments(parser.add_argument_group("swap pipeline (as convert)"), SwapSettings)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from(QualitySettings, args, env_prefix=ENV_PREFIX)
        swap_settings = settings_from(SwapSettings, args, env_prefix="FACESWAP_SWAP_")
        variants = dict(swap_variant(swap_settings, text) for text in args.variant)
        report = evaluate_model_dir(args.model_dir, args.media, args.target, settings, swap_settings,
                                    output_dir=args.output, holdout_b=args.holdout_b, progress=sys.stderr.isatty(),
                                    variants=variants)
    except (FaceswapError, KeyboardInterrupt) as error:
        interrupted = isinstance(error, KeyboardInterrupt)
        print("interrupted" if interrupted else f"error: {error}", file=sys.stderr)
        return 130 if interrupted else 2
    print(json.dumps(report, indent=2))
    failed = [entry for entry in report["media"] if "error" in entry]  # variants fail on the same media
    for entry in failed:
        print(f"error: {entry['error']}", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
