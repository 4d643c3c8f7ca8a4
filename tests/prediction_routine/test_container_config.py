"""The container settings (prediction_routine/gunicorn_config.py): Vertex's AIP_* variables, several
workers each loading the model once, and the image's build context."""

from __future__ import annotations

import json
import os
import runpy
import time
import urllib.request

import pytest

from tests.conftest import REPO_ROOT, free_port
from tests.prediction_routine.conftest import instance
from tests.websocket_server.server_processes import GUNICORN, ServerProcess

CONFIG = REPO_ROOT / "prediction_routine" / "gunicorn_config.py"


@pytest.fixture(autouse=True)
def restored_thread_environment(monkeypatch):
    """Reading the config sets the workers' thread variables in this process: undo that afterwards."""
    from prediction_routine.native_threads import SINGLE_THREAD_ENVIRONMENT

    for name in SINGLE_THREAD_ENVIRONMENT:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:   # recorded as unset, so a value the config sets is removed again
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)


def test_config_follows_the_vertex_variables(monkeypatch):
    monkeypatch.setenv("AIP_HTTP_PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("FACESWAP_SERVER_THREADS", "6")
    config = runpy.run_path(str(CONFIG))
    assert config["bind"] == ["0.0.0.0:8123"]
    assert (config["workers"], config["threads"], config["worker_class"]) == (3, 6, "gthread")
    assert config["control_socket_disable"] is True and config["timeout"] >= 60

    monkeypatch.delenv("AIP_HTTP_PORT")
    assert runpy.run_path(str(CONFIG))["bind"] == ["0.0.0.0:8080"]


def test_by_default_one_sync_worker_per_core(monkeypatch):
    for name in ("WEB_CONCURRENCY", "FACESWAP_SERVER_THREADS"):
        monkeypatch.delenv(name, raising=False)
    config = runpy.run_path(str(CONFIG))
    assert (config["workers"], config["threads"], config["worker_class"]) == (len(os.sched_getaffinity(0)), 1, "sync")


def test_container_command_serves_the_aip_storage_uri_with_two_workers(test_model_dir, tmp_path, d9_jpegs):
    port = free_port()
    environment = {"AIP_STORAGE_URI": str(test_model_dir), "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
                   "AIP_HEALTH_ROUTE": "/ready", "WEB_CONCURRENCY": "2", "MODEL_DIR": ""}
    # The image's command, bound to loopback for the test (-b on the command line wins over the file).
    command = GUNICORN + ["-c", str(CONFIG), "-b", f"127.0.0.1:{port}", "prediction_routine.server:create_app()"]
    server = ServerProcess("container", command, REPO_ROOT, environment, port, "/ready", tmp_path / "container.log",
                           start_timeout_s=300).start()
    try:
        deadline = time.monotonic() + 300   # the health check answered once one worker was ready
        while server.log_text().count("prediction server ready") < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert server.log_text().count("prediction server ready") == 2, server.log_text()[-3000:]
        body = json.dumps({"instances": [instance(d9_jpegs[0])]}).encode()
        request = urllib.request.Request(server.url + "/v1/endpoints/1/deployedModels/2:predict", data=body,
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            assert json.loads(response.read())["predictions"][0]["faces"] == 1
        assert "Traceback" not in server.log_text()
    finally:
        server.stop()


def test_docker_build_context_holds_what_the_image_copies():
    ignore = (REPO_ROOT / "prediction_routine" / "Dockerfile.dockerignore").read_text().splitlines()
    dockerfile = (REPO_ROOT / "prediction_routine" / "Dockerfile").read_text()
    copied = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert copied == ["requirements.lock", "faceswap", "prediction_routine"]
    for source in copied:
        assert (REPO_ROOT / source).exists()
        assert f"!{source}" in ignore or f"!{source}/" in ignore
    assert 'CMD ["gunicorn", "-c", "prediction_routine/gunicorn_config.py", "prediction_routine.server:create_app()"]' \
        in dockerfile
