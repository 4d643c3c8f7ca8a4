"""websocket_server/prediction_client.py: settings, instance helpers, retries and errors against
real HTTP servers on 127.0.0.1, and concurrent use from gevent greenlets (the relay's setting).

The end-to-end calls against the real prediction server (both URL shapes) are in
tests/prediction_routine/test_server.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from faceswap.errors import FaceswapError
from tests.conftest import REPO_ROOT, free_port
from websocket_server.prediction_client import (PredictionClient, PredictionClientSettings, PredictionRejected,
                                                PredictionUnavailable, client_settings, make_instance,
                                                prediction_image)

JPEG = b"\xff\xd8\xff\xe0 a small jpeg-looking payload"


class ScriptedRoutine:
    """A real HTTP server on 127.0.0.1 that answers predict calls with scripted statuses.

    ``script``: HTTP statuses for successive requests (then 200 forever, echoing each frame);
    ``delay_s``: how long every request takes. It records every
    request's (method, path, body) so the tests can check what the client sent.
    """

    def __init__(self, script: list[int], delay_s: float = 0.0):
        self.script = list(script)
        self.delay_s = delay_s
        self.requests: list[tuple[str, str, dict]] = []
        self.in_progress = 0
        self.max_in_progress = 0   # most requests being answered at the same moment
        self._count_lock = threading.Lock()
        routine = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                routine.requests.append(("POST", self.path, body))
                with routine._count_lock:
                    routine.in_progress += 1
                    routine.max_in_progress = max(routine.max_in_progress, routine.in_progress)
                time.sleep(routine.delay_s)
                with routine._count_lock:
                    routine.in_progress -= 1
                status = routine.script.pop(0) if routine.script else 200
                if status == 200:
                    answer = {"predictions": [{"image": instance["image"], "faces": 1, "timings_ms": {}, "error": None}
                                              for instance in body["instances"]]}
                else:
                    answer = {"error": {"code": status, "message": f"scripted {status}", "status": "SCRIPTED"}}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    servers: list[ScriptedRoutine] = []

    def start(script: list[int], delay_s: float = 0.0) -> ScriptedRoutine:
        servers.append(ScriptedRoutine(script, delay_s))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_importing_the_client_pulls_in_no_model_stack():
    code = ("import sys, websocket_server.prediction_client as c; c.PredictionClient(c.client_settings(environ={})); "
            "print(sorted(m for m in ('tensorflow', 'mediapipe', 'cv2', 'numpy', 'keras') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "[]"


def test_settings_from_the_environment_and_resource_names():
    settings = client_settings(environ={"FACESWAP_PREDICTION_TARGET": "vertex", "FACESWAP_PREDICTION_PROJECT": "p1",
                                        "FACESWAP_PREDICTION_LOCATION": "europe-west4",
                                        "FACESWAP_PREDICTION_ENDPOINT_ID": "123",
                                        "FACESWAP_PREDICTION_TIMEOUT_S": "2.5", "FACESWAP_PREDICTION_RETRIES": "4"})
    assert (settings.timeout_s, settings.retries) == (2.5, 4)
    assert settings.base_url == "https://europe-west4-aiplatform.googleapis.com/"
    assert settings.resource_name == "projects/p1/locations/europe-west4/endpoints/123"
    assert not settings.is_anonymous

    legacy = PredictionClientSettings(target="legacy", project="p1", model="faceswap", version="v2")
    assert legacy.base_url == "https://ml.googleapis.com/"
    assert legacy.resource_name == "projects/p1/models/faceswap/versions/v2"
    assert PredictionClientSettings(target="legacy", project="p1").resource_name == "projects/p1/models/faceswap"

    local = PredictionClientSettings()
    assert local.is_anonymous and local.base_url == "http://127.0.0.1:8002/"
    with pytest.raises(FaceswapError, match="prediction target 'cloud' is not one of local, vertex, legacy"):
        PredictionClientSettings(target="cloud")
    with pytest.raises(FaceswapError, match="FACESWAP_PREDICTION_RETRIES"):
        client_settings(environ={"FACESWAP_PREDICTION_RETRIES": "many"})


def test_instances_and_images_round_trip():
    built = make_instance(JPEG, "b2a", stream_id=7, options={"mark": True})
    assert built == {"image": {"b64": "/9j/4CBhIHNtYWxsIGpwZWctbG9va2luZyBwYXlsb2Fk"}, "direction": "b2a",
                     "stream_id": "7", "options": {"mark": True}}
    assert prediction_image(built) == JPEG
    timed = make_instance(JPEG, "a2b", stream_id="s", frame_time_ms=1234)
    assert timed["frame_time_ms"] == 1234.0 and isinstance(timed["frame_time_ms"], float)
    assert "frame_time_ms" not in make_instance(JPEG, "a2b", stream_id="s")
    assert prediction_image({"image": None, "error": "bad"}) is None
    assert prediction_image({"image": {"b64": "***"}}) is None


def test_vertex_and_legacy_requests_reach_the_right_paths(scripted):
    server = scripted([])
    vertex = PredictionClient(client_settings(environ={}, api_endpoint=server.url, project="p", endpoint_id="e7"))
    legacy = PredictionClient(client_settings(environ={}, target="legacy", anonymous=True, api_endpoint=server.url,
                                              project="p", model="m", version="v3"))
    assert prediction_image(vertex.predict([make_instance(JPEG, "a2b")])[0]) == JPEG
    assert legacy.predict([make_instance(JPEG, "a2b"), make_instance(JPEG, "b2a")])[1]["faces"] == 1
    assert [(method, path) for method, path, _ in server.requests] == [
        ("POST", "/v1/projects/p/locations/us-central1/endpoints/e7:predict?alt=json"),
        ("POST", "/v1/projects/p/models/m/versions/v3:predict?alt=json")]
    assert server.requests[1][2] == {"instances": [make_instance(JPEG, "a2b"), make_instance(JPEG, "b2a")]}


def test_429_and_503_are_retried_with_backoff(scripted):
    server = scripted([429, 503])
    client = PredictionClient(client_settings(environ={}, api_endpoint=server.url, retries=2, backoff_s=0.1))
    started = time.monotonic()
    assert client.predict([make_instance(JPEG, "a2b")])[0]["faces"] == 1
    assert len(server.requests) == 3
    assert time.monotonic() - started >= 0.05 + 0.1   # two waits, each at least half the nominal delay


def test_retries_run_out_into_prediction_unavailable(scripted):
    server = scripted([503, 503, 503, 503])
    client = PredictionClient(client_settings(environ={}, api_endpoint=server.url, retries=2, backoff_s=0.01))
    with pytest.raises(PredictionUnavailable, match=r"unavailable after 3 attempts \(HTTP 503: scripted 503\)") as error:
        client.predict([make_instance(JPEG, "a2b")])
    assert error.value.status_code == 503 and len(server.requests) == 3


def test_a_refused_request_is_not_retried(scripted):
    server = scripted([400])
    client = PredictionClient(client_settings(environ={}, api_endpoint=server.url, retries=3))
    with pytest.raises(PredictionRejected, match="rejected the request .HTTP 400: scripted 400.") as error:
        client.predict([make_instance(JPEG, "a2b")])
    assert error.value.status_code == 400 and len(server.requests) == 1
    with pytest.raises(PredictionRejected, match="non-empty list"):
        client.predict([])


def test_a_request_over_the_online_limit_is_refused_without_being_sent(scripted):
    server = scripted([])
    client = PredictionClient(client_settings(environ={}, api_endpoint=server.url, retries=3))
    big = make_instance(b"\xff\xd8\xff\xe0" + bytes(1_180_000), "a2b")   # base64: ~1.57 MB of JSON
    with pytest.raises(PredictionRejected, match="takes at most 1572864") as error:
        client.predict([big])
    assert error.value.status_code == 413 and server.requests == []
    # just under the limit it is sent, and the same client goes on serving
    fits = make_instance(b"\xff\xd8\xff\xe0" + bytes(1_170_000), "a2b")
    assert client.predict([fits])[0]["faces"] == 1 and len(server.requests) == 1
    small = PredictionClient(client_settings(environ={}, api_endpoint=server.url, max_request_bytes=4096))
    with pytest.raises(PredictionRejected, match="takes at most 4096"):
        small.predict([make_instance(bytes(4096), "a2b")])
    with pytest.raises(FaceswapError, match="at least 1024"):
        client_settings(environ={}, max_request_bytes=100)


def test_an_unreachable_routine_fails_fast():
    port = free_port()   # nobody listens here
    client = PredictionClient(client_settings(environ={}, api_endpoint=f"http://127.0.0.1:{port}", retries=2,
                                              backoff_s=0.05))
    started = time.monotonic()
    with pytest.raises(PredictionUnavailable, match="ConnectionRefusedError") as error:
        client.predict([make_instance(JPEG, "a2b")])
    assert error.value.status_code is None
    assert time.monotonic() - started < 1.0


def test_a_slow_routine_times_out(scripted):
    server = scripted([], delay_s=1.5)
    client = PredictionClient(client_settings(environ={}, api_endpoint=server.url, retries=0, timeout_s=0.3))
    started = time.monotonic()
    with pytest.raises(PredictionUnavailable, match="timed out"):
        client.predict([make_instance(JPEG, "a2b")])
    assert time.monotonic() - started < 1.2


def test_concurrent_greenlets_under_gevent(scripted):
    """The relay's situation: gevent monkey-patched, one client, many greenlets at once."""
    routine = scripted([], delay_s=0.3)
    script = textwrap.dedent(f"""
        from gevent import monkey; monkey.patch_all()
        import base64, json, time, gevent
        from websocket_server.prediction_client import PredictionClient, client_settings, make_instance, prediction_image
        client = PredictionClient(client_settings(environ={{}}, api_endpoint={routine.url!r}, retries=0, timeout_s=20))
        frames = [b"\\xff\\xd8\\xff frame %d" % number for number in range(8)]
        started = time.monotonic()
        jobs = [gevent.spawn(client.predict, [make_instance(frame, "a2b")]) for frame in frames]
        gevent.joinall(jobs, timeout=30, raise_error=True)
        elapsed = time.monotonic() - started
        echoed = [prediction_image(job.value[0]) for job in jobs]
        print(json.dumps({{"elapsed": elapsed, "matches": echoed == frames, "pooled": len(client._pool)}}))
    """)
    output = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert output.returncode == 0, output.stderr[-3000:]
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert result["matches"], "a greenlet got another greenlet's answer"
    # Concurrent, not serialised: several requests were being answered at once (timing alone is
    # unreliable on a loaded machine), and all eight took less than eight calls one after another.
    assert routine.max_in_progress >= 4, f"at most {routine.max_in_progress} requests at once: serialised"
    assert result["elapsed"] < 8 * 0.3, f"greenlets were serialised: {result['elapsed']:.2f} s"
    assert result["pooled"] >= 2   # several connections were open at once and are kept for reuse
    assert len(routine.requests) == 8
