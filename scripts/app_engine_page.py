"""Stage the webcam page (client_app/) for App Engine standard, exactly as it is deployed.

    BUNDLE/                 a copy of client_app/ (no staticfiles/, no secret_env.yaml, no caches)
    BUNDLE/faceswap/        what POST /recordings/sign signs with (client_app/facedetect/recordings.py):
                            __init__.py, errors.py, settings.py and provenance/ (pure Python; its
                            c2pa-python and cryptography are pinned in client_app/requirements.txt)
    BUNDLE/app.yaml         client_app/app.yaml with the real FACESWAP_WEBSOCKET_URL and
                            DJANGO_ALLOWED_HOSTS (the source keeps its YOUR_* placeholders)
    BUNDLE/secret_env.yaml  DJANGO_SECRET_KEY and FACESWAP_SESSION_SECRET (owner-only; included by
                            app.yaml; never in the repository)
    BUNDLE/staticfiles/     written by the documented command, run in the bundle with DEBUG off
                            and no secret at all: ``python manage.py collectstatic --noinput``

``upload_files`` lists what ``gcloud app deploy`` uploads from a folder: every file that its
``.gcloudignore`` (gitignore syntax, matched with pathspec) does not exclude. Used by
scripts/deploy_gcp.py and by the tests that check the page as deployed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from faceswap.errors import FaceswapError  # noqa: E402
from websocket_server.app_engine_bundle import configure_app_yaml  # noqa: E402

PAGE_FOLDER = REPO_ROOT / "client_app"
NOT_STAGED = ("staticfiles", "secret_env.yaml", "__pycache__", "*.pyc")
CORE_FILES = ("__init__.py", "errors.py", "settings.py")
CORE_PACKAGES = ("provenance",)
COLLECTSTATIC = ("manage.py", "collectstatic", "--noinput")


def build_page_bundle(target: Path, environment: Mapping[str, str], secrets: Mapping[str, str]) -> Path:
    """Write the page's deployable folder to ``target`` (replaced if it holds an earlier bundle).

    ``environment``: app.yaml env_variables to set (FACESWAP_WEBSOCKET_URL, DJANGO_ALLOWED_HOSTS);
    ``secrets``: the env_variables of secret_env.yaml. Static files are not collected here
    (``collect_static``). Raises FaceswapError for a non-empty folder that is not a page bundle.
    """
    target = Path(target)
    if target.resolve() in (REPO_ROOT.resolve(), PAGE_FOLDER.resolve()):
        raise FaceswapError(f"{target}: the bundle needs its own folder, not the repository")
    if target.exists():
        if any(target.iterdir()) and not (target / "manage.py").is_file():
            raise FaceswapError(f"{target}: the folder is not empty and holds no earlier page bundle; "
                                "choose a new folder")
        shutil.rmtree(target)
    shutil.copytree(PAGE_FOLDER, target, ignore=shutil.ignore_patterns(*NOT_STAGED))
    (target / "faceswap").mkdir()
    for name in CORE_FILES:
        shutil.copy2(REPO_ROOT / "faceswap" / name, target / "faceswap" / name)
    for package in CORE_PACKAGES:
        shutil.copytree(REPO_ROOT / "faceswap" / package, target / "faceswap" / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    configure_app_yaml(PAGE_FOLDER / "app.yaml", target / "app.yaml", environment)
    write_env_yaml(target / "secret_env.yaml", secrets)
    return target


def write_env_yaml(path: Path, values: Mapping[str, str]) -> None:
    """An ``env_variables:`` file readable by its owner only (App Engine ``includes:`` it)."""
    import yaml

    path = Path(path)
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    path.write_text("# Written by scripts/deploy_gcp.py from Secret Manager; never commit it.\n"
                    + yaml.safe_dump({"env_variables": {key: str(value) for key, value in values.items()}},
                                     sort_keys=False))


def collect_static(bundle: Path, python: str = sys.executable) -> None:
    """Run the documented ``manage.py collectstatic --noinput`` in ``bundle``: DEBUG off, no
    DJANGO_* or FACESWAP_* variables at all (a build step needs no secret)."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("DJANGO_", "FACESWAP_"))}
    result = subprocess.run([python, *COLLECTSTATIC], cwd=bundle, env=environment, capture_output=True,
                            text=True, timeout=300)
    if result.returncode != 0:
        raise FaceswapError(f"collectstatic failed in {bundle}: {result.stderr.strip()[-2000:]}")


def upload_files(folder: Path) -> list[str]:
    """The files ``gcloud app deploy`` uploads from ``folder`` (POSIX paths relative to it, sorted):
    all of them except those its .gcloudignore excludes (gitignore syntax)."""
    import pathspec

    folder = Path(folder)
    ignore_file = folder / ".gcloudignore"
    if not ignore_file.is_file():
        raise FaceswapError(f"{folder} has no .gcloudignore: gcloud would derive one from .gitignore, "
                            "which keeps staticfiles/ and secret files out of the upload")
    spec = pathspec.GitIgnoreSpec.from_lines(ignore_file.read_text().splitlines())
    files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    ignored = set(spec.match_files(files))
    return [name for name in files if name not in ignored]
