"""`python -m faceswap extract`: videos/pictures -> folder of aligned faces."""

from __future__ import annotations

import argparse

from faceswap.extraction.extract import ExtractSettings, extract_faces
from faceswap.settings import add_dataclass_arguments, settings_from

HELP = "find, align and save the faces of videos and pictures (training data)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="video files, pictures or folders of them")
    parser.add_argument("--output", "-o", required=True, help="face folder to write (created; existing faces kept)")
    add_dataclass_arguments(parser, ExtractSettings)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(ExtractSettings, args, env_prefix="FACESWAP_EXTRACT_")
    report = extract_faces(args.inputs, args.output, settings, progress=not args.quiet)
    print(f"{report.faces_written} faces from {report.frames} frames "
          f"({report.frames_per_second:.1f} frames/s) written to {args.output}")
    return 0
