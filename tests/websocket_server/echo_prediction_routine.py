"""A stand-in prediction routine for relay tests that need to make the routine slow or kill it.

It speaks the REST contract of docs/protocols.md (Vertex URL shape, as the local prediction
server) and echoes each frame back unchanged with ``faces: 1``; a payload that is not JPEG/PNG
gets a per-instance ``error``. ``ECHO_DELAY_MS`` makes every request that slow. The real routine
(prediction_routine/server.py) is used wherever the test is about frames going through.

    gunicorn -k gthread --threads 8 -b 127.0.0.1:PORT echo_prediction_routine:app
"""

from __future__ import annotations

import base64
import binascii
import os
import time

from flask import Flask, jsonify, request

app = Flask(__name__)
DELAY_S = float(os.environ.get("ECHO_DELAY_MS", "0")) / 1000.0
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _echo(instance) -> dict:
    try:
        data = base64.b64decode(instance["image"]["b64"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError):
        return {"image": None, "faces": 0, "timings_ms": {}, "error": "instance has no base64 image"}
    if not data.startswith(IMAGE_SIGNATURES):
        return {"image": None, "faces": 0, "timings_ms": {}, "error": "the frame is not a JPEG or PNG image"}
    timings = {"total": DELAY_S * 1000}
    if "frame_time_ms" in instance:   # what the relay forwarded, for the tests to read back
        timings["echo_frame_time_ms"] = instance["frame_time_ms"]
    return {"image": {"b64": instance["image"]["b64"]}, "faces": 1, "timings_ms": timings, "error": None}


@app.post("/v1/projects/<project>/locations/<location>/endpoints/<endpoint>:predict")
def predict(project, location, endpoint):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        return jsonify(error={"code": 400, "message": "body needs instances", "status": "INVALID_ARGUMENT"}), 400
    time.sleep(DELAY_S)
    return jsonify(predictions=[_echo(instance) for instance in body["instances"]])


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
