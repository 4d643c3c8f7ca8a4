"""The relay's deployment files: app.yaml, its own pinned requirements.txt (no model stack), and
a staged bundle that starts under gunicorn without the rest of the repository."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
import yaml
from packaging.requirements import Requirement

from faceswap.errors import FaceswapError
from tests.conftest import free_port
from tests.websocket_server.conftest import get_json
from tests.websocket_server.server_processes import REPO_ROOT, ServerProcess, relay_command
from websocket_server.app_engine_bundle import build_bundle, placeholders_left

RELAY_TOP_LEVEL = ["Flask", "Flask-Sockets", "gevent", "gevent-websocket", "gunicorn", "google-api-python-client",
                   "google-auth", "google-auth-httplib2", "httplib2"]
MODEL_STACK = {"tensorflow", "tensorflow-cpu", "keras", "mediapipe", "opencv-python", "opencv-contrib-python",
               "numpy", "ai-edge-litert", "scipy", "jax"}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path) -> dict[str, str]:
    result = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (specifier,) = list(requirement.specifier)
            assert specifier.operator == "==", f"{line}: not pinned"
            result[normalised(requirement.name)] = specifier.version
    return result


def runtime_closure(names: list[str]) -> set[str]:
    """Every distribution the given ones need at run time (in this environment), extras followed."""
    seen: set[str] = set()
    pending = [(name, ()) for name in names]
    while pending:
        name, extras = pending.pop()
        key = normalised(name)
        if key in seen:
            continue
        seen.add(key)
        for text in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or any(requirement.marker.evaluate({"extra": extra})
                                                 for extra in ("",) + tuple(extras)):
                pending.append((requirement.name, tuple(requirement.extras)))
    return seen


def test_requirements_are_pinned_to_the_lock_complete_and_free_of_the_model_stack():
    relay = pins(REPO_ROOT / "websocket_server" / "requirements.txt")
    lock = pins(REPO_ROOT / "requirements.lock")
    for name, version in relay.items():
        assert lock.get(name) == version, f"{name}=={version} differs from requirements.lock ({lock.get(name)})"
    assert not MODEL_STACK & set(relay), MODEL_STACK & set(relay)
    missing = runtime_closure(RELAY_TOP_LEVEL + ["packaging"]) - set(relay)
    assert not missing, f"requirements.txt lacks {sorted(missing)}"


def test_app_yaml_runs_the_documented_command_on_flexible_as_its_own_service_account():
    text = (REPO_ROOT / "websocket_server" / "app.yaml").read_text()
    lines = {line.strip() for line in text.splitlines()}
    assert "env: flex" in lines and "service: relay" in lines
    assert "session_affinity: true" not in lines   # a WebSocket stays on its instance without it
    assert "service_account: faceswap-relay@YOUR_PROJECT_ID.iam.gserviceaccount.com" in lines
    assert "FACESWAP_SESSION_SECRET:" not in text    # secrets only in the built bundle
    (entrypoint,) = [line for line in lines if line.startswith("entrypoint:")]
    assert entrypoint.split(":", 1)[1].split() == \
        ["gunicorn", "-b", ":$PORT", "-w", "1", "-k", "flask_sockets.worker", "--no-control-socket", "main:app"]
    for variable in ("FACESWAP_PREDICTION_TARGET", "FACESWAP_PREDICTION_PROJECT", "FACESWAP_PREDICTION_ENDPOINT_ID",
                     "FACESWAP_PREDICTION_API_ENDPOINT", "RELAY_ALLOWED_ORIGINS"):
        assert f"{variable}:" in text
    assert 'path: "/livez"' in text


def test_bundle_starts_without_the_repository_and_without_the_model_stack(tmp_path):
    bundle = build_bundle(tmp_path / "relay")
    assert sorted(path.name for path in (bundle / "faceswap").iterdir()) == ["__init__.py", "errors.py", "json_limits.py", "settings.py"]
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    check = ("import sys, main; heavy = {'tensorflow', 'cv2', 'numpy', 'mediapipe', 'keras'} & set(sys.modules); "
             "assert not heavy, heavy; assert main.__file__.startswith(sys.argv[1]), main.__file__; "
             "import websocket_server; assert websocket_server.__file__.startswith(sys.argv[1])")
    subprocess.run([sys.executable, "-c", check, str(bundle)], cwd=bundle, env=environment, check=True, timeout=120)

    port = free_port()
    relay = ServerProcess("bundled relay", relay_command(port), bundle,
                          {"FACESWAP_PREDICTION_API_ENDPOINT": f"http://127.0.0.1:{free_port()}",
                           "FACESWAP_PREDICTION_RETRIES": "0", "PYTHONPATH": ""},
                          port, "/livez", tmp_path / "relay.log")
    relay.start()
    try:
        status, health = get_json(relay.url + "/healthz")
        assert status == 200 and health["status"] == "degraded"
        assert health["prediction_routine"]["available"] is False
    finally:
        relay.stop()


def test_bundle_carries_the_configured_values_and_leaves_the_source_alone(tmp_path):
    source = (REPO_ROOT / "websocket_server" / "app.yaml").read_text()
    values = {"FACESWAP_PREDICTION_PROJECT": "demo", "FACESWAP_PREDICTION_ENDPOINT_ID": "777",
              "FACESWAP_PREDICTION_API_ENDPOINT": "https://777.us-central1-42.prediction.vertexai.goog",
              "RELAY_ALLOWED_ORIGINS": "https://demo.uc.r.appspot.com", "FACESWAP_SESSION_SECRET": "s" * 40}
    bundle = build_bundle(tmp_path / "relay", values, "faceswap-relay@demo.iam.gserviceaccount.com")
    config = yaml.safe_load((bundle / "app.yaml").read_text())
    assert config["service_account"] == "faceswap-relay@demo.iam.gserviceaccount.com"
    assert config["env_variables"] == {
        "FACESWAP_PREDICTION_TARGET": "vertex", "FACESWAP_PREDICTION_PROJECT": "demo",
        "FACESWAP_PREDICTION_LOCATION": "us-central1", "FACESWAP_PREDICTION_ENDPOINT_ID": "777",
        "FACESWAP_PREDICTION_API_ENDPOINT": "https://777.us-central1-42.prediction.vertexai.goog",
        "FACESWAP_PREDICTION_TIMEOUT_S": "5", "FACESWAP_PREDICTION_RETRIES": "0",
        "RELAY_ALLOWED_ORIGINS": "https://demo.uc.r.appspot.com", "RELAY_MAX_FRAMES_PER_SECOND": "60",
        "RELAY_TRUSTED_PROXIES": "172.16.0.0/12,35.191.0.0/16,130.211.0.0/22",
        "FACESWAP_SESSION_SECRET": "s" * 40}
    assert config["service"] == "relay" and config["entrypoint"].startswith("gunicorn -b :$PORT -w 1")
    assert placeholders_left(bundle / "app.yaml") == []
    assert (bundle / "app.yaml").stat().st_mode & 0o077 == 0   # holds a secret: owner only
    assert (REPO_ROOT / "websocket_server" / "app.yaml").read_text() == source
    assert placeholders_left(REPO_ROOT / "websocket_server" / "app.yaml") == [
        "REGION_ID", "YOUR_ENDPOINT_ID", "YOUR_PROJECT_ID", "YOUR_PROJECT_NUMBER"]


def test_bundle_command_takes_values_and_warns_about_placeholders_left(tmp_path):
    result = subprocess.run([sys.executable, "-m", "websocket_server.app_engine_bundle", str(tmp_path / "relay"),
                             "--env", "FACESWAP_PREDICTION_ENDPOINT_ID=9"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((tmp_path / "relay" / "app.yaml").read_text())["env_variables"][
        "FACESWAP_PREDICTION_ENDPOINT_ID"] == "9"
    assert "still holds REGION_ID, YOUR_ENDPOINT_ID, YOUR_PROJECT_ID, YOUR_PROJECT_NUMBER" in result.stderr


def test_bundle_refuses_to_overwrite_an_unrelated_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FaceswapError, match="not empty"):
        build_bundle(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
