"""Command line: ``python -m faceswap extract | train | export | convert | model-info | verify | make-dev-cert``.

Each stage keeps its command in ``<stage>/command.py`` with ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``. A FaceswapError is printed as one line (no traceback) with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from faceswap.errors import FaceswapError

COMMANDS = {
    "extract": ("faceswap.extraction.command", "find, align and save the faces of videos and pictures"),
    "train": ("faceswap.training.command", "train the shared-encoder / dual-decoder autoencoder"),
    "export": ("faceswap.export.command", "export a trained model for serving (SavedModel + TFLite int8)"),
    "convert": ("faceswap.conversion.command", "swap faces in a video file or a folder of pictures"),
    "model-info": ("faceswap.model.command", "parameter counts and multiply-accumulates per face of the model configs"),
    "verify": ("faceswap.provenance.verify_command", "check the C2PA Content Credentials of files"),
    "make-dev-cert": ("faceswap.provenance.dev_cert_command", "create a self-signed development signing certificate"),
}


def _quiet_libraries() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; the command modules are imported only for ``only`` (or all when None)."""
    parser = argparse.ArgumentParser(prog="python -m faceswap", description="Face-swap workflow: "
                                     "extract faces -> train the autoencoder -> export it -> convert videos.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((word for word in argv if word in COMMANDS), "")
    parser = build_parser(only=chosen)
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except FaceswapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
