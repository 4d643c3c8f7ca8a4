"""Stage the relay for App Engine flexible: one folder that runs without the rest of the repository.

App Engine uploads the folder holding app.yaml and runs the entrypoint there. The relay imports
itself as the ``websocket_server`` package and needs faceswap/errors.py, json_limits.py and settings.py
(pure Python), so the bundle is:

    BUNDLE/app.yaml, requirements.txt, main.py, gunicorn.conf.py   (from websocket_server/)
    BUNDLE/websocket_server/*.py                                    (the package itself)
    BUNDLE/faceswap/__init__.py, errors.py, json_limits.py, settings.py  (the pure-Python core it uses)

Nothing else (no model code, no TensorFlow). The configuration is written into the bundle's
app.yaml when it is built (``--env NAME=VALUE``, ``--service-account``), never edited afterwards:
the source app.yaml keeps its YOUR_* placeholders, and a bundle that still holds one is reported.
scripts/deploy_gcp.py builds it with the values it just created (endpoint, origins, secret):

    .venv/bin/python -m websocket_server.app_engine_bundle build/relay \
        --env FACESWAP_PREDICTION_ENDPOINT_ID=1234 --service-account faceswap-relay@P.iam.gserviceaccount.com
    gcloud app deploy build/relay/app.yaml
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Mapping

from faceswap.errors import FaceswapError

RELAY_FOLDER = Path(__file__).resolve().parent
REPO_ROOT = RELAY_FOLDER.parent
ENTRY_FILES = ("app.yaml", "requirements.txt", "main.py", "gunicorn.conf.py")
CORE_FILES = ("__init__.py", "errors.py", "json_limits.py", "settings.py")
PLACEHOLDER = re.compile(r"YOUR_[A-Z_]+|REGION_ID")


def placeholders_left(app_yaml: Path) -> list[str]:
    """The YOUR_* / REGION_ID placeholders still in an app.yaml (sorted, unique)."""
    return sorted(set(PLACEHOLDER.findall(Path(app_yaml).read_text())))


def configure_app_yaml(source: Path, target: Path, environment: Mapping[str, str] | None = None,
                       service_account: str | None = None) -> None:
    """Write ``source`` app.yaml to ``target`` with ``environment`` merged into env_variables (values
    win over the source's) and ``service_account`` set; the YAML comments are not kept."""
    import yaml  # PyYAML: a deploy-time tool; the relay itself never imports this module

    config = yaml.safe_load(Path(source).read_text())
    if environment:
        config["env_variables"] = {**(config.get("env_variables") or {}),
                                   **{str(key): str(value) for key, value in environment.items()}}
    if service_account:
        config["service_account"] = service_account
    header = f"# Generated from {source.name} by the deployment; edit the source or the command, not this file.\n"
    Path(target).write_text(header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False))
    if environment and any("SECRET" in key for key in environment):
        os.chmod(target, 0o600)


def build_bundle(target: Path, environment: Mapping[str, str] | None = None,
                 service_account: str | None = None) -> Path:
    """Write the deployable relay folder to ``target`` (emptied first); return it.

    ``environment`` (FACESWAP_PREDICTION_*, RELAY_*, FACESWAP_SESSION_*) goes into the bundle's
    app.yaml env_variables and ``service_account`` becomes its ``service_account`` (the identity
    that calls Vertex AI); the source app.yaml is never changed.
    """
    target = Path(target)
    if target.resolve() in (REPO_ROOT.resolve(), RELAY_FOLDER.resolve()):
        raise FaceswapError(f"{target}: the bundle needs its own folder, not the repository")
    if target.exists():
        if any(target.iterdir()) and not (target / "websocket_server" / "main.py").is_file():
            raise FaceswapError(f"{target}: the folder is not empty and holds no earlier relay bundle; "
                                "choose a new folder")
        shutil.rmtree(target)
    (target / "websocket_server").mkdir(parents=True)
    (target / "faceswap").mkdir()
    for name in ENTRY_FILES:
        shutil.copy2(RELAY_FOLDER / name, target / name)
    if environment or service_account:
        configure_app_yaml(RELAY_FOLDER / "app.yaml", target / "app.yaml", environment, service_account)
    for source in sorted(RELAY_FOLDER.glob("*.py")):
        shutil.copy2(source, target / "websocket_server" / source.name)
    for name in CORE_FILES:
        shutil.copy2(REPO_ROOT / "faceswap" / name, target / "faceswap" / name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stage the relay for `gcloud app deploy BUNDLE/app.yaml`.")
    parser.add_argument("bundle", type=Path, help="folder to write (replaced if it exists), e.g. build/relay")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an env_variables entry of the bundle's app.yaml (repeatable)")
    parser.add_argument("--service-account", help="service account the relay runs as (calls Vertex AI)")
    args = parser.parse_args(argv)
    try:
        environment = {}
        for item in args.env:
            name, separator, value = item.partition("=")
            if not separator or not name:
                raise FaceswapError(f"--env {item!r}: expected NAME=VALUE")
            environment[name] = value
        target = build_bundle(args.bundle, environment, args.service_account)
    except FaceswapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"relay bundle written to {target}; deploy with: gcloud app deploy {target / 'app.yaml'}")
    left = placeholders_left(target / "app.yaml")
    if left:
        print(f"warning: {target / 'app.yaml'} still holds {', '.join(left)}: set them with --env / "
              "--service-account (scripts/deploy_gcp.py does) before deploying", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
