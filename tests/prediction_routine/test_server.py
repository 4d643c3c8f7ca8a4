"""The local prediction server as a real gunicorn process, called through the real
google-api-python-client client (Vertex and legacy URL shapes) and with raw HTTP for bad bodies."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from prediction_routine.instances import TIMING_STAGES
from tests.conftest import free_port
from tests.prediction_routine.conftest import image_of, instance, prediction_server_command
from tests.websocket_server.server_processes import REPO_ROOT
from websocket_server.prediction_client import (PredictionClient, PredictionRejected, PredictionUnavailable,
                                                client_settings)


def post(url: str, data: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_declaring(url: str, content_length: int) -> tuple[int, dict]:
    """POST headers declaring a ``content_length``-byte JSON body and send none of it: the server must
    answer on the declared length alone. (Sending a too-large body races its early answer: once it
    closes the connection, the client's send fails with a broken pipe and the answer may be lost.)"""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.putrequest("POST", parsed.path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(content_length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def vertex_client(prediction_server):
    return PredictionClient(client_settings(environ={}, target="local", api_endpoint=prediction_server.url,
                                            project="demo", location="europe-west4", endpoint_id="faceswap",
                                            timeout_s=120))


def test_vertex_shape_through_the_client(vertex_client, d9_jpegs):
    assert vertex_client.settings.resource_name == "projects/demo/locations/europe-west4/endpoints/faceswap"
    [result] = vertex_client.predict([instance(d9_jpegs[0], stream_id="vertex")])
    assert result["error"] is None and result["faces"] == 1
    assert set(result["timings_ms"]) == set(TIMING_STAGES)
    assert image_of(result).shape == (480, 640, 3)


@pytest.mark.parametrize("version", [None, "v1"])
def test_legacy_shape_through_the_client(prediction_server, d9_jpegs, still_path, version):
    client = PredictionClient(client_settings(environ={}, target="legacy", anonymous=True,
                                              api_endpoint=prediction_server.url, project="demo", model="faceswap",
                                              version=version, timeout_s=120))
    cat = still_path("s39").read_bytes()
    face, no_face = client.predict([instance(d9_jpegs[1], "b2a"), instance(cat)])
    assert face["faces"] == 1 and face["error"] is None
    assert no_face["faces"] == 0 and no_face["error"] is None


def test_vertex_custom_container_routes(prediction_server, d9_jpegs):
    status, health = get(prediction_server.url + "/v1/endpoints/321/deployedModels/654")
    assert status == 200 and health["status"] == "ok" and health["backend"] == "tflite"
    assert get(prediction_server.url + "/health")[0] == 200
    status, body = post(prediction_server.url + "/v1/endpoints/321/deployedModels/654:predict",
                        json.dumps({"instances": [instance(d9_jpegs[2])], "parameters": {}}).encode())
    assert status == 200 and body["predictions"][0]["faces"] == 1


def test_concurrent_requests_from_several_threads(vertex_client, d9_jpegs):
    results: dict[int, list[dict]] = {}
    errors: list[BaseException] = []

    def caller(number: int) -> None:
        try:
            results[number] = [vertex_client.predict([instance(jpeg, stream_id=f"thread-{number}")])[0]
                               for jpeg in d9_jpegs[:3]]
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=caller, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert sorted(results) == [0, 1, 2, 3]
    assert all(result["faces"] == 1 and result["error"] is None for batch in results.values() for result in batch)


def test_bad_instances_each_get_an_error_through_the_server(vertex_client, d9_jpegs):
    results = vertex_client.predict([instance(b"GIF89a not really"), instance(d9_jpegs[3], direction="sideways"),
                                     instance(d9_jpegs[3])])
    assert "not a JPEG or PNG image" in results[0]["error"] and results[0]["image"] is None
    assert "unknown direction" in results[1]["error"]
    assert results[2]["error"] is None and results[2]["faces"] == 1


def test_whole_request_errors_use_googles_error_shape(prediction_server, vertex_client, d9_jpegs):
    url = prediction_server.url + "/v1/projects/demo/locations/us-central1/endpoints/faceswap:predict"
    assert post(url, b"{not json") == (400, {"error": {
        "code": 400, "message": 'the request body is not JSON; expected {"instances": [...]}',
        "status": "INVALID_ARGUMENT"}})
    status, body = post(url, json.dumps({"inputs": []}).encode())
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT" and '"instances"' in body["error"]["message"]
    status, body = post(url, json.dumps({"instances": "frame"}).encode())
    assert status == 400 and "non-empty list" in body["error"]["message"]
    status, body = post_declaring(url, 1_600_000)
    assert status == 413 and body["error"]["code"] == 413 and "1572864" in body["error"]["message"]
    status, body = post(prediction_server.url + "/v1/projects/demo/nothing:predict", b"{}")
    assert status == 404 and body["error"]["status"] == "NOT_FOUND"

    with pytest.raises(PredictionRejected) as rejected:
        vertex_client.predict([instance(np.zeros(1_600_000, np.uint8).tobytes())])
    assert rejected.value.status_code == 413
    # The server is still serving after all that.
    assert vertex_client.predict([instance(d9_jpegs[0])])[0]["faces"] == 1


def _run_until_exit(command: list[str], environment: dict, timeout_s: float) -> tuple[int, str]:
    process = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, **environment}, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_s,
                             start_new_session=True)
    return process.returncode, process.stdout.decode(errors="replace")


def _broken_copy(test_model_dir: Path, destination: Path) -> tuple[Path, str]:
    """A copy of the test model with its largest file removed; returns (folder, removed name)."""
    shutil.copytree(test_model_dir, destination)
    largest = max((path for path in destination.rglob("*") if path.is_file()), key=lambda path: path.stat().st_size)
    largest.unlink()
    return destination, largest.name


def test_missing_model_file_stops_gunicorn_with_one_clear_message(test_model_dir, tmp_path):
    broken, removed = _broken_copy(Path(test_model_dir), tmp_path / "broken-model")
    code, output = _run_until_exit(prediction_server_command(free_port()), {"MODEL_DIR": str(broken)}, 300)
    assert code != 0
    assert "cannot start the prediction server" in output and removed in output, output[-2000:]
    assert "Traceback" not in output, output[-4000:]
    assert "App failed to load" in output


def test_answers_503_until_the_detector_is_loaded_then_serves(test_model_dir, d9_jpegs):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(prediction_server_command(port), cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "MODEL_DIR": str(test_model_dir)})
    try:
        seen: list[tuple[int, dict]] = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (seen and seen[-1][0] == 200):
            try:
                seen.append(get(url + "/health"))
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
                continue
            if seen[-1][0] == 503 and len(seen) == 1:
                # Still loading: predict is refused the same way, and the client gives up quickly.
                client = PredictionClient(client_settings(environ={}, api_endpoint=url, retries=2, backoff_s=0.05))
                started = time.monotonic()
                try:
                    client.predict([instance(d9_jpegs[0])])
                except PredictionUnavailable as unavailable:
                    assert unavailable.status_code == 503 and not isinstance(unavailable, PredictionRejected)
                    assert "after 3 attempts" in str(unavailable) and "still loading" in str(unavailable)
                    assert time.monotonic() - started < 5
                else:   # answered: only because loading finished between the two calls, never while it lasts
                    assert get(url + "/health")[0] == 200, "a predict was served while /health said loading"
            time.sleep(0.05)
        statuses = [status for status, _ in seen]
        assert statuses[0] == 503 and statuses[-1] == 200, statuses
        assert seen[0][1]["error"]["status"] == "UNAVAILABLE" and "still loading" in seen[0][1]["error"]["message"]
        client = PredictionClient(client_settings(environ={}, api_endpoint=url, timeout_s=120))
        assert client.predict([instance(d9_jpegs[0])])[0]["faces"] == 1
    finally:
        os.killpg(process.pid, 9)
        process.wait(timeout=30)


def test_killed_server_makes_the_client_raise_quickly(test_model_dir, tmp_path, d9_jpegs):
    from tests.websocket_server.server_processes import ServerProcess

    port = free_port()
    server = ServerProcess("prediction server", prediction_server_command(port), REPO_ROOT,
                           {"MODEL_DIR": str(test_model_dir)}, port, "/health", tmp_path / "server.log",
                           start_timeout_s=300).start()
    try:
        client = PredictionClient(client_settings(environ={}, api_endpoint=server.url, retries=2, backoff_s=0.05,
                                                  timeout_s=120))
        assert client.predict([instance(d9_jpegs[0])])[0]["faces"] == 1   # a pooled connection now exists
        server.kill()
        started = time.monotonic()
        with pytest.raises(PredictionUnavailable) as unavailable:
            client.predict([instance(d9_jpegs[0])])
        assert time.monotonic() - started < 2.0
        assert unavailable.value.status_code is None and "after 3 attempts" in str(unavailable.value)
    finally:
        server.stop()


# -- hostile requests (issue 12, items 4, 10, 11) -------------------------------------------------

def test_a_body_that_is_not_declared_json_is_refused(prediction_server, d9_jpegs):
    url = prediction_server.url + "/v1/projects/demo/locations/us-central1/endpoints/faceswap:predict"
    body = json.dumps({"instances": [instance(d9_jpegs[0])]}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        status, answer = post(url, body, content_type=content_type)
        assert status == 415 and answer["error"]["status"] == "INVALID_ARGUMENT", (content_type, answer)
        assert "Content-Type: application/json" in answer["error"]["message"]
    status, answer = post(url, body, content_type="application/json; charset=utf-8")
    assert status == 200 and answer["predictions"][0]["faces"] == 1


@pytest.mark.parametrize("levels", [40, 955, 5000])
def test_deeply_nested_json_is_a_client_error(prediction_server, d9_jpegs, levels):
    url = prediction_server.url + "/v1/projects/demo/locations/us-central1/endpoints/faceswap:predict"
    nested = "[" * levels + "]" * levels
    body = ('{"instances": [{"image": {"b64": "AAAA"}, "direction": "a2b", "options": {"color": ' + nested
            + "}}]}").encode()
    status, answer = post(url, body)
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT", answer
    assert "nested too deeply" in answer["error"]["message"] or "not JSON" in answer["error"]["message"]
    assert get(prediction_server.url + "/health")[0] == 200


def _slow_sender(port: int, results: list, stop: threading.Event) -> None:
    """Until ``stop``: POST a 1000-byte JSON body one byte a second, record the status line the
    server answers and how long it took, and start again (an attacker keeps trying)."""
    import socket

    while not stop.is_set():
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n")
            sock.settimeout(1.0)
            started = time.monotonic()
            while not stop.is_set():
                try:
                    sock.sendall(b" ")
                    answer = sock.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    answer = b"(reset)"
                results.append((answer.split(b"\r\n")[0].decode(), time.monotonic() - started))
                break
        time.sleep(0.05)  # then try again (gently: the test machine is shared)


def test_slow_request_bodies_are_cut_off_and_health_stays_answerable(prediction_server):
    stop = threading.Event()
    results: list = []
    senders = [threading.Thread(target=_slow_sender, args=(prediction_server.port, results, stop), daemon=True)
               for _ in range(5)]
    for sender in senders:
        sender.start()
    health_ms = []
    try:
        time.sleep(0.3)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, _ = get(prediction_server.url + "/health")
            health_ms.append((time.monotonic() - started) * 1000)
            assert status == 200
            time.sleep(0.2)
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=5)
    statuses = [line for line, _ in results]
    print(f"\nslow senders: {len(results)} answers ({statuses.count('HTTP/1.1 408 Request Timeout')} x 408 after "
          f"max {max([t for line, t in results if '408' in line] or [0]):.2f} s, "
          f"{statuses.count('HTTP/1.1 503 Service Unavailable')} x 503); /health max {max(health_ms):.0f} ms over "
          f"{len(health_ms)} checks; load {os.getloadavg()[0]:.2f}")
    # At most two uploads at a time are read (a 1000-byte body gets 0.25 s, then 408); the rest
    # are refused at once with 503. Nothing else is ever answered to a trickling body.
    assert set(statuses) <= {"HTTP/1.1 408 Request Timeout", "HTTP/1.1 503 Service Unavailable"}, statuses
    assert statuses.count("HTTP/1.1 408 Request Timeout") >= 4, statuses
    assert all(elapsed < 1.5 for _, elapsed in results), results
    assert max(health_ms) < 1000, health_ms
