"""Stage the relay for App Engine flexible: one folder that runs without the rest of the repository.

App Engine uploads the folder holding app.yaml and runs the entrypoint there. The relay imports
itself as the ``websocket_server`` package and needs faceswap/errors.py and faceswap/settings.py
(pure Python), so the bundle is:

    BUNDLE/app.yaml, requirements.txt, main.py, gunicorn.conf.py   (from websocket_server/)
    BUNDLE/websocket_server/*.py                                    (the package itself)
    BUNDLE/faceswap/__init__.py, errors.py, settings.py             (the pure-Python core it uses)

Nothing else (no model code, no TensorFlow). Then:

    .venv/bin/python -m websocket_server.app_engine_bundle build/relay
    gcloud app deploy build/relay/app.yaml
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from faceswap.errors import FaceswapError

RELAY_FOLDER = Path(__file__).resolve().parent
REPO_ROOT = RELAY_FOLDER.parent
ENTRY_FILES = ("app.yaml", "requirements.txt", "main.py", "gunicorn.conf.py")
CORE_FILES = ("__init__.py", "errors.py", "settings.py")


def build_bundle(target: Path) -> Path:
    """Write the deployable relay folder to ``target`` (emptied first); return it."""
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
    for source in sorted(RELAY_FOLDER.glob("*.py")):
        shutil.copy2(source, target / "websocket_server" / source.name)
    for name in CORE_FILES:
        shutil.copy2(REPO_ROOT / "faceswap" / name, target / "faceswap" / name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stage the relay for `gcloud app deploy BUNDLE/app.yaml`.")
    parser.add_argument("bundle", type=Path, help="folder to write (replaced if it exists), e.g. build/relay")
    args = parser.parse_args(argv)
    try:
        target = build_bundle(args.bundle)
    except FaceswapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"relay bundle written to {target}; deploy with: gcloud app deploy {target / 'app.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
