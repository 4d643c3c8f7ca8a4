"""`python -m faceswap convert`: a video file -> video file (timestamps, audio and picture properties
kept), or a picture folder -> folder. Prints the conversion summary: counts, frames without a face
by reason, and what was changed or dropped."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from faceswap.conversion.convert import ConvertSettings, convert
from faceswap.faces.masks import MaskSettings
from faceswap.provenance.credentials import ENV_PREFIX as C2PA_ENV_PREFIX, CredentialSettings, check_credentials
from faceswap.settings import add_dataclass_arguments, settings_from
from faceswap.swapping.frame_swapper import SwapSettings
from faceswap.swapping.watermark import MarkSettings

HELP = ("swap the faces of a video (.mp4 .mov .mkv .avi .webm .m4v in; .mp4 .m4v .mov .mkv .webm out; every frame "
        "keeps its timestamp, audio kept) or of a folder of pictures")

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="video file, or folder of pictures")
    parser.add_argument("output", help="video file to write, or folder to write the pictures into")
    parser.add_argument("--model-dir", "-m", default=None,
                        help=f"exported model directory (default: $FACESWAP_MODEL_DIR or {DEFAULT_MODEL_DIR})")
    add_dataclass_arguments(parser, ConvertSettings)
    add_dataclass_arguments(parser, SwapSettings)
    add_dataclass_arguments(parser, MaskSettings)
    add_dataclass_arguments(parser, MarkSettings)
    add_dataclass_arguments(parser, CredentialSettings)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(ConvertSettings, args, env_prefix="FACESWAP_CONVERT_")
    swap_settings = settings_from(SwapSettings, args, env_prefix="FACESWAP_SWAP_", warn_unknown=True)
    swap_settings.mask = settings_from(MaskSettings, args, env_prefix="FACESWAP_MASK_")
    swap_settings.mark_style = settings_from(MarkSettings, args, env_prefix="FACESWAP_MARK_")
    credentials = settings_from(CredentialSettings, args, env_prefix=C2PA_ENV_PREFIX)
    check_credentials(credentials)  # a wrong certificate or key stops here, before any work
    model_dir = args.model_dir or os.environ.get("FACESWAP_MODEL_DIR") or DEFAULT_MODEL_DIR
    report = convert(args.input, args.output, model_dir, settings, swap_settings,
                     progress=not getattr(args, "quiet", False), credentials=credentials)
    print("\n".join(report.summary("pictures" if Path(args.input).is_dir() else "frames")))
    return 1 if report.skipped else 0
