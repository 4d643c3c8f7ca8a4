"""Fixtures shared by the whole suite: paths to the real sample data in ../shared/data,
free loopback ports, and the artifact folder for screenshots and reports.

Sample footage is never copied into the repository; tests read it where it lies.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACESWAP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

HUMAN_STILLS = ["s0", "s1", "s2", "s3", "s4", "s5", "s8", "s9", "s10", "s11", "s12"]
NO_FACE_STILLS = ["s23", "s33", "s39"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"sample data not found at {SHARED_DATA} (see ../shared/data/MANIFEST.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def clip_path(shared_data):
    """clip_path('d9') -> Path to ../shared/data/clips/d9.mp4"""
    def _clip(name: str) -> Path:
        path = shared_data / "clips" / f"{name}.mp4"
        assert path.is_file(), path
        return path
    return _clip


@pytest.fixture(scope="session")
def still_path(shared_data):
    """still_path('s0') -> Path to ../shared/data/stills/s0.jpg"""
    def _still(name: str) -> Path:
        path = shared_data / "stills" / f"{name}.jpg"
        assert path.is_file(), path
        return path
    return _still


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and reports for people to look at (test-artifacts/)."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory, shared_data) -> Path:
    """A REAL small exported model (tiny config, tens of iterations on faces of d9 -> d12), built once
    per session (~30 s): manifest.json, saved_model/, swap_a2b.tflite, swap_b2a.tflite. Treat it as
    read-only; copy it before breaking it. Its face folders and training directory are kept in
    ``test_model_dir.parent / "work"`` (faces_a, faces_b, model). FACESWAP_TEST_MODEL_DIR names one
    built before (``build_test_model_dir(X / "model", work_dir=X / "work")``) to use instead."""
    from faceswap.export.test_model import build_test_model_dir

    prebuilt = os.environ.get("FACESWAP_TEST_MODEL_DIR")
    if prebuilt:   # built once by scripts/mutation_test.sh for its thousands of short runs (same layout)
        return Path(prebuilt)
    root = tmp_path_factory.mktemp("test-model")
    return build_test_model_dir(root / "model", work_dir=root / "work")


@pytest.fixture(scope="session")
def test_model_work(test_model_dir):
    """The working folder of the session's test model: ``faces_a`` (d9) and ``faces_b`` (d12) face
    folders and ``model`` (the tiny training directory with checkpoint.npz). Read-only."""
    work = test_model_dir.parent / "work"
    for name in ("faces_a/faces.json", "faces_b/faces.json", "model/checkpoint.npz"):
        assert (work / name).is_file(), work / name
    return work
