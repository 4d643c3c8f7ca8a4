"""`python -m faceswap verify FILE...`: report each file's Content Credentials, exit code for scripts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from faceswap.errors import FaceswapError
from faceswap.provenance.verify import EXIT_CODES, verify_file

HELP = "check the C2PA Content Credentials of files (valid, signer, digital source type, tampered)"

EPILOG = ("exit code: the highest over the files — "
          + ", ".join(f"{code} {status}" for status, code in EXIT_CODES.items()) + "; 2 bad usage")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("files", nargs="+", metavar="FILE", help="pictures or videos to check")
    parser.add_argument("--trust-anchors", type=Path, default=None,
                        help="PEM file of CA certificates to trust (default: $FACESWAP_C2PA_TRUST_ANCHORS; "
                             "none: a valid signature is reported as not trusted)")
    parser.add_argument("--require-trusted", action="store_true",
                        help="count a valid but untrusted signer as invalid (exit code 6)")


def run(args: argparse.Namespace) -> int:
    anchors_path = args.trust_anchors or os.environ.get("FACESWAP_C2PA_TRUST_ANCHORS")
    anchors = None
    if anchors_path:
        try:
            anchors = Path(anchors_path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise FaceswapError(f"{anchors_path}: cannot read the trust anchors ({error})") from None
    worst = 0
    for name in args.files:
        verdict = verify_file(name, anchors)
        if args.require_trusted and verdict.status == "valid" and not verdict.trusted:
            verdict.status, verdict.detail = "invalid", "signer not trusted"
            print(f"{verdict.path}: UNTRUSTED: valid signature, but the signer's chain reaches no trust anchor; "
                  f"signer: {verdict.signer}")
        else:
            print(verdict.line())
        worst = max(worst, verdict.exit_code)
    return worst
