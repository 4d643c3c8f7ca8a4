"""`python -m faceswap model-info`: parameter counts and multiply-accumulates per face of the configs.

    python -m faceswap.model.command            # all configs (works without registering the subcommand)
"""

from __future__ import annotations

import argparse
import json

from faceswap.errors import FaceswapError
from faceswap.model.architecture import CONFIGS, model_info

HELP = "print parameter counts and MACs per face of the model configs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="*", default=[], metavar="CONFIG",
                        help=f"configs to describe (default: all of {', '.join(CONFIGS)})")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    unknown = [name for name in args.configs if name not in CONFIGS]
    if unknown:
        raise FaceswapError(f"unknown model config {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    infos = [model_info(name) for name in (args.configs or CONFIGS)]
    if args.json:
        print(json.dumps(infos, indent=1))
        return 0
    print(f"{'config':10s} {'params':>12s} {'encoder':>12s} {'decoder':>11s} {'MACs/face':>14s}")
    for info in infos:
        print(f"{info['config']:10s} {info['params_total']:12,d} {info['params_encoder']:12,d} "
              f"{info['params_per_decoder']:11,d} {info['macs_per_face_swap']:14,d}")
    return 0


if __name__ == "__main__":
    import os
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m faceswap.model.command", description=HELP)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
