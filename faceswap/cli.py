"""Command line: ``python -m faceswap extract | train | export | convert``.

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
    "extract": "faceswap.extraction.command",
    "train": "faceswap.training.command",
    "export": "faceswap.export.command",
    "convert": "faceswap.conversion.command",
}


def _quiet_libraries() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m faceswap", description="Face-swap workflow: "
                                     "extract faces -> train the autoencoder -> export it -> convert videos.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=getattr(module, "HELP", None), description=getattr(module, "HELP", None))
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    parser = build_parser()
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
