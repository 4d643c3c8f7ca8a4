"""The webcam page built as deployed (scripts/app_engine_page.py): DEBUG off, static files collected by
the documented command without any secret, .gcloudignore honoured for the upload list; the staged
app started with app.yaml's own entrypoint (gunicorn, 127.0.0.1) and its env_variables + secret_env.yaml,
and every script, style sheet and icon the page links resolved through app.yaml's static handler
to a file that is uploaded, identical to the source; POST /recordings/sign signs an MP4 with the
faceswap core staged in the bundle and the packages pinned in its requirements.txt."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from faceswap.errors import FaceswapError
from faceswap.provenance.frame_metadata import DIGITAL_SOURCE_TYPE
from faceswap.provenance.verify import verify_file
from scripts.app_engine_page import build_page_bundle, collect_static, upload_files
from tests.conftest import REPO_ROOT, free_port
from tests.websocket_server.test_app_engine_bundle import normalised, pins, runtime_closure
from websocket_server.session_token import SessionTokenChecker, session_token_settings

HOST = "demo.uc.r.appspot.com"
SESSION_SECRET = "session-secret-" + "s" * 40
SOURCE_STATIC = REPO_ROOT / "client_app" / "facedetect" / "static"


@pytest.fixture(scope="module")
def page_bundle(tmp_path_factory) -> Path:
    bundle = build_page_bundle(tmp_path_factory.mktemp("deploy") / "page",
                               {"FACESWAP_WEBSOCKET_URL": f"wss://relay-dot-{HOST}/stream",
                                "DJANGO_ALLOWED_HOSTS": HOST},
                               {"DJANGO_SECRET_KEY": "django-" + "d" * 40, "FACESWAP_SESSION_SECRET": SESSION_SECRET})
    collect_static(bundle)
    return bundle


def static_handler_path(app_yaml: dict, url_path: str) -> str | None:
    """The file App Engine serves for ``url_path`` through a static_dir handler (None: goes to the app)."""
    for handler in app_yaml["handlers"]:
        prefix = handler["url"]
        if "static_dir" in handler and url_path.startswith(prefix.rstrip("/") + "/"):
            return handler["static_dir"].rstrip("/") + url_path[len(prefix.rstrip("/")):]
        if "script" in handler and re.fullmatch(prefix, url_path):
            return None
    return None


def deployed_environment(bundle: Path) -> dict[str, str]:
    """The process environment App Engine gives the page: app.yaml env_variables + included files."""
    config = yaml.safe_load((bundle / "app.yaml").read_text())
    environment = dict(config["env_variables"])
    for included in config.get("includes", []):
        environment.update(yaml.safe_load((bundle / included).read_text())["env_variables"])
    return environment


def test_upload_list_holds_the_collected_files_and_honours_gcloudignore(page_bundle):
    uploaded = upload_files(page_bundle)
    for name in ("app.js", "protocol.js", "style.css", "favicon.svg"):
        assert f"staticfiles/facedetect/{name}" in uploaded     # ignored by .gitignore, uploaded all the same
    assert {"app.yaml", "manage.py", "requirements.txt", "facedetect/wsgi.py", "secret_env.yaml"} <= set(uploaded)
    assert not {".gcloudignore", ".gitignore", "secret_env.example.yaml"} & set(uploaded)
    assert not [name for name in uploaded if "__pycache__" in name or name.endswith(".pyc")]
    assert (page_bundle / "secret_env.yaml").stat().st_mode & 0o077 == 0
    # What POST /recordings/sign signs with: the pure-Python core and its provenance package.
    assert {"faceswap/__init__.py", "faceswap/errors.py", "faceswap/settings.py", "faceswap/provenance/__init__.py",
            "faceswap/provenance/manifest.py", "faceswap/provenance/credentials.py",
            "faceswap/provenance/frame_metadata.py"} <= set(uploaded)
    assert not {"faceswap/images.py", "faceswap/model/runtime.py"} & set(uploaded)   # no model stack


def test_page_requirements_are_pinned_to_the_lock_and_hold_what_signing_needs():
    page = pins(REPO_ROOT / "client_app" / "requirements.txt")
    lock = pins(REPO_ROOT / "requirements.lock")
    for name, version in page.items():
        assert lock.get(name) == version, f"{name}=={version} differs from requirements.lock ({lock.get(name)})"
    missing = runtime_closure(["Django", "gunicorn", "itsdangerous", "c2pa-python", "cryptography"]) - set(page)
    assert not missing, f"client_app/requirements.txt lacks {sorted(missing)}"
    assert {normalised("c2pa-python"), "cryptography"} <= set(page)


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_page_as_deployed_serves_its_scripts_and_styles(page_bundle, tmp_path, clip_path):
    config = yaml.safe_load((page_bundle / "app.yaml").read_text())
    port = free_port()
    command = shlex.split(config["entrypoint"].replace(":$PORT", f"127.0.0.1:{port}"))
    assert command[0] == "gunicorn"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "FACESWAP_"))}
    environment.update(deployed_environment(page_bundle), PYTHONPATH="")
    assert environment["DJANGO_DEBUG"] == "0"
    assert environment["FACESWAP_C2PA_DEV_DIR"].startswith("/tmp/")   # App Engine standard: only /tmp is writable
    dev_dir = tmp_path / "c2pa-development"
    environment["FACESWAP_C2PA_DEV_DIR"] = str(dev_dir)   # this machine's /tmp is shared: a private one here
    log = open(tmp_path / "page.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", *command, "--no-control-socket"], cwd=page_bundle, env=environment,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        html = _get_page(f"http://127.0.0.1:{port}/", server, tmp_path / "page.log")
        linked = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        assert sorted(linked) == ["/static/facedetect/app.js", "/static/facedetect/favicon.svg",
                                  "/static/facedetect/style.css"]
        uploaded = set(upload_files(page_bundle))
        for url_path in linked + ["/static/facedetect/protocol.js"]:      # app.js imports protocol.js
            served = static_handler_path(config, url_path)
            assert served in uploaded, url_path
            assert (page_bundle / served).read_bytes() == (SOURCE_STATIC / url_path[len("/static/"):]).read_bytes()
        client_config = json.loads(re.search(r'<script id="client-config" type="application/json">(.*?)</script>',
                                             html, re.S).group(1))
        assert client_config["websocketUrl"] == f"wss://relay-dot-{HOST}/stream"

        request = urllib.request.Request(f"http://127.0.0.1:{port}/session-token", data=b'{"consent": true}',
                                         headers={"Host": HOST, "Content-Type": "application/json",
                                                  "X-Forwarded-Proto": "https"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            token = json.loads(response.read())["token"]
        relay = SessionTokenChecker(session_token_settings(environ={"FACESWAP_SESSION_SECRET": SESSION_SECRET}))
        assert relay.refusal(token) is None

        recording = clip_path("d18").read_bytes()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/recordings/sign", data=recording,
                                         headers={"Host": HOST, "Content-Type": "video/mp4", "X-Forwarded-Proto": "https",
                                                  "Origin": f"https://{HOST}", "Sec-Fetch-Site": "same-origin"},
                                         method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            signed = response.read()
        verdict = verify_file(_written(tmp_path / "signed.mp4", signed), (dev_dir / "ca.pem").read_text())
        assert verdict.status == "valid" and verdict.trusted, verdict   # signed with the pair made in dev_dir
        assert verdict.digital_source_types == [DIGITAL_SOURCE_TYPE], verdict
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
        log.close()


def _get_page(url: str, server: subprocess.Popen, log_path: Path) -> str:
    request = urllib.request.Request(url, headers={"Host": HOST, "X-Forwarded-Proto": "https"})
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            pytest.fail(f"the page exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read().decode()
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                pytest.fail(f"the page did not answer:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)


def test_an_unrelated_folder_is_never_replaced_and_gcloudignore_is_required(tmp_path):
    (tmp_path / "keep.txt").write_text("keep me")
    with pytest.raises(FaceswapError, match="not empty"):
        build_page_bundle(tmp_path, {}, {})
    assert (tmp_path / "keep.txt").read_text() == "keep me"
    with pytest.raises(FaceswapError, match="no .gcloudignore"):
        upload_files(tmp_path)
