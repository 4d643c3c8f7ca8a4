"""The sdist of the custom prediction routine (``python setup.py sdist`` at the repository root):
its contents, and ModelPrediction installed from it working without the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(dist)], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    [archive] = list(dist.glob("*.tar.gz"))
    return archive


def test_sdist_holds_the_routine_and_the_core_only(sdist):
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    top_level = {name.split("/")[0] for name in names if name}
    assert "prediction_routine/predictor.py" in names and "faceswap/swapping/frame_swapper.py" in names
    assert "faceswap/model/runtime.py" in names and "faceswap/faces/detection.py" in names
    assert not top_level & {"tests", "models", "client_app", "websocket_server", "scripts", "workspace", ".venv"}
    assert not [name for name in names if name.endswith((".tflite", ".pb", ".keras", ".h5", ".mp4", ".jpg"))]
    assert not [name for name in names if "__pycache__" in name]


def test_installed_sdist_predicts_without_the_repository(sdist, tmp_path, test_model_dir, still_path, clip_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                              "--no-index", "--target", str(target), str(sdist)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert (target / "prediction_routine" / "predictor.py").is_file()

    dependencies = next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    script = textwrap.dedent(f"""
        import base64, json, sys
        import cv2
        from prediction_routine.predictor import ModelPrediction
        import faceswap, prediction_routine
        capture = cv2.VideoCapture({str(clip_path('d9'))!r})
        ok, frame = capture.read()
        frame = cv2.resize(frame, (640, 480))
        jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
        routine = ModelPrediction.from_path({str(test_model_dir)!r})
        cat = open({str(still_path('s33'))!r}, "rb").read()
        results = routine.predict([
            {{"image": {{"b64": base64.b64encode(jpeg).decode()}}, "direction": "a2b"}},
            {{"image": {{"b64": base64.b64encode(cat).decode()}}, "direction": "b2a"}}])
        print(json.dumps({{"faces": [r["faces"] for r in results], "errors": [r["error"] for r in results],
                           "modules": [faceswap.__file__, prediction_routine.__file__],
                           "repo_on_path": any(p.rstrip("/") == {str(REPO_ROOT)!r} for p in sys.path)}}))
    """)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PYTHONPATH"] = os.pathsep.join([str(target), str(dependencies)])
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["faces"] == [1, 0] and result["errors"] == [None, None]
    assert all(module.startswith(str(target)) for module in result["modules"]), result["modules"]
    assert not result["repo_on_path"]
