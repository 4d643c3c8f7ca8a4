"""`python -m faceswap make-dev-cert DIR`: a self-signed development CA + ES256 C2PA signing certificate."""

from __future__ import annotations

import argparse

from faceswap.provenance.credentials import make_development_credentials

HELP = "create a self-signed development certificate and key for Content Credentials (local use and tests)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder to write ca.pem, chain.pem and signer.key into (outside the repository)")
    parser.add_argument("--organization", default="faceswap development", help="organisation name in the certificates")
    parser.add_argument("--days", type=int, default=365, help="validity in days")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")


def run(args: argparse.Namespace) -> int:
    paths = make_development_credentials(args.folder, args.organization, args.days, args.overwrite)
    print(f"signing certificate chain: {paths['chain']}  (--c2pa-cert / FACESWAP_C2PA_CERT)")
    print(f"private key:               {paths['key']}  (--c2pa-key / FACESWAP_C2PA_KEY, keep it private)")
    print(f"development CA:            {paths['ca']}  (verify --trust-anchors)")
    print("A self-signed credential proves only that a file is unchanged since someone holding this key signed it; "
          "it does not prove who that was. Use a certificate from a C2PA-recognised CA for published content.")
    return 0
