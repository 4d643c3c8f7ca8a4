"""prediction_routine.deploy through googleapiclient's HttpMockSequence: exact URLs, methods, bodies."""

from __future__ import annotations

import json

import pytest
from googleapiclient.http import HttpMockSequence

from prediction_routine.deploy import (CPU_UTILIZATION_METRIC, DeployError, LegacyDeploySettings,
                                       VertexDeploySettings, deploy_legacy, deploy_vertex, main)

VERTEX = "https://us-central1-aiplatform.googleapis.com/v1/"
PARENT = "projects/demo/locations/us-central1"
MODEL = f"{PARENT}/models/4242"
ENDPOINT = f"{PARENT}/endpoints/777"


def ok(body: dict) -> tuple[dict, str]:
    return {"status": "200"}, json.dumps(body)


def vertex_settings(**overrides) -> VertexDeploySettings:
    values = dict(project="demo", image_uri="us-central1-docker.pkg.dev/demo/faceswap/prediction:1",
                  artifact_uri="gs://demo-models/default", min_replicas=1, max_replicas=4,
                  machine_type="n1-standard-4", poll_interval_s=0.0)
    values.update(overrides)
    return VertexDeploySettings(**values)


def sent(http: HttpMockSequence) -> list[tuple[str, str, dict | None]]:
    return [(method, uri, json.loads(body) if body else None) for uri, method, body, _ in http.request_sequence]


def test_vertex_upload_create_endpoint_deploy_with_polling():
    http = HttpMockSequence([
        ok({"name": f"{MODEL}/operations/1"}),
        ok({"name": f"{MODEL}/operations/1", "done": False}),
        ok({"name": f"{MODEL}/operations/1", "done": True, "response": {"model": MODEL}}),
        ok({"name": f"{ENDPOINT}/operations/2", "done": True, "response": {"name": ENDPOINT}}),
        ok({"name": f"{ENDPOINT}/operations/3"}),
        ok({"name": f"{ENDPOINT}/operations/3", "done": True, "response": {}}),
    ])
    printed: list[str] = []
    result = deploy_vertex(vertex_settings(), http=http, out=printed.append)

    assert result["model"] == MODEL and result["endpoint"] == ENDPOINT
    requests = sent(http)
    assert requests[0] == ("POST", VERTEX + f"{PARENT}/models:upload?alt=json", {"model": {
        "displayName": "faceswap",
        "description": "face-swap prediction routine (prediction_routine/server.py)",
        "containerSpec": {"imageUri": "us-central1-docker.pkg.dev/demo/faceswap/prediction:1",
                          "predictRoute": "/predict", "healthRoute": "/health",
                          "ports": [{"containerPort": 8080}],
                          "env": [{"name": "FACESWAP_ROUTINE_BACKEND", "value": "tflite"}]},
        "artifactUri": "gs://demo-models/default"}})
    assert requests[1] == ("GET", VERTEX + f"{MODEL}/operations/1?alt=json", None)
    assert requests[2] == ("GET", VERTEX + f"{MODEL}/operations/1?alt=json", None)
    assert requests[3] == ("POST", VERTEX + f"{PARENT}/endpoints?alt=json", {"displayName": "faceswap"})
    assert requests[4] == ("POST", VERTEX + f"{ENDPOINT}:deployModel?alt=json", {
        "deployedModel": {"model": MODEL, "displayName": "faceswap", "dedicatedResources": {
            "machineSpec": {"machineType": "n1-standard-4"}, "minReplicaCount": 1, "maxReplicaCount": 4,
            "autoscalingMetricSpecs": [{"metricName": CPU_UTILIZATION_METRIC, "target": 60}]}},
        "trafficSplit": {"0": 100}})
    assert requests[5] == ("GET", VERTEX + f"{ENDPOINT}/operations/3?alt=json", None)
    assert len(requests) == 6
    assert any("FACESWAP_PREDICTION_ENDPOINT_ID=777" in line for line in printed)


def test_vertex_into_existing_endpoint_skips_creation():
    http = HttpMockSequence([
        ok({"name": f"{MODEL}/operations/1", "done": True, "response": {"model": MODEL}}),
        ok({"name": f"{PARENT}/endpoints/55/operations/3", "done": True, "response": {}}),
    ])
    result = deploy_vertex(vertex_settings(endpoint_id="55"), http=http, out=lambda line: None)
    assert result["endpoint"] == f"{PARENT}/endpoints/55"
    assert [(method, uri) for method, uri, _ in sent(http)] == [
        ("POST", VERTEX + f"{PARENT}/models:upload?alt=json"),
        ("POST", VERTEX + f"{PARENT}/endpoints/55:deployModel?alt=json")]


def test_vertex_failed_operation_is_a_clear_error():
    http = HttpMockSequence([
        ok({"name": f"{MODEL}/operations/1", "done": True,
            "error": {"code": 3, "message": "Image not found: us-central1-docker.pkg.dev/demo/x"}}),
    ])
    with pytest.raises(DeployError, match="upload model failed: Image not found"):
        deploy_vertex(vertex_settings(), http=http, out=lambda line: None)


def test_vertex_refused_request_names_the_step():
    http = HttpMockSequence([({"status": "403"}, json.dumps(
        {"error": {"code": 403, "message": "Permission denied on resource project demo.", "status": "PERMISSION_DENIED"}}))])
    with pytest.raises(DeployError, match=r"upload model was refused: HTTP 403 Permission denied"):
        deploy_vertex(vertex_settings(), http=http, out=lambda line: None)


def test_vertex_settings_are_checked_before_any_request():
    http = HttpMockSequence([])
    with pytest.raises(DeployError, match="--image-uri"):
        deploy_vertex(vertex_settings(image_uri=""), http=http, out=lambda line: None)
    with pytest.raises(DeployError, match="replica"):
        deploy_vertex(vertex_settings(min_replicas=3, max_replicas=2), http=http, out=lambda line: None)
    assert http.request_sequence == []


LEGACY = "https://ml.googleapis.com/v1/"


def legacy_settings(**overrides) -> LegacyDeploySettings:
    values = dict(project="demo", package_uri="gs://demo-staging/faceswap-routine-0.1.0.tar.gz",
                  deployment_uri="gs://demo-models/default", poll_interval_s=0.0)
    values.update(overrides)
    return LegacyDeploySettings(**values)


EXPECTED_VERSION = {
    "name": "v1", "deploymentUri": "gs://demo-models/default", "runtimeVersion": "2.11", "pythonVersion": "3.7",
    "machineType": "mls1-c4-m2", "packageUris": ["gs://demo-staging/faceswap-routine-0.1.0.tar.gz"],
    "predictionClass": "prediction_routine.predictor.ModelPrediction", "autoScaling": {"minNodes": 1}}


def test_legacy_model_and_version():
    http = HttpMockSequence([
        ok({"name": "faceswap", "regions": ["us-central1"]}),
        ok({"name": "projects/demo/operations/create_faceswap_v1"}),
        ok({"name": "projects/demo/operations/create_faceswap_v1", "done": True, "response": {}}),
    ])
    result = deploy_legacy(legacy_settings(), http=http, out=lambda line: None)
    assert result["version"] == "projects/demo/models/faceswap/versions/v1"
    assert sent(http) == [
        ("POST", LEGACY + "projects/demo/models?alt=json", {"name": "faceswap", "regions": ["us-central1"]}),
        ("POST", LEGACY + "projects/demo/models/faceswap/versions?alt=json", EXPECTED_VERSION),
        ("GET", LEGACY + "projects/demo/operations/create_faceswap_v1?alt=json", None),
    ]


def test_legacy_existing_model_is_reused():
    http = HttpMockSequence([
        ({"status": "409"}, json.dumps({"error": {"code": 409, "message": "Field: model.name Error: A model with "
                                                  "the same name already exists.", "status": "ALREADY_EXISTS"}})),
        ok({"name": "projects/demo/operations/op2", "done": True, "response": {}}),
    ])
    printed: list[str] = []
    deploy_legacy(legacy_settings(), http=http, out=printed.append)
    assert [method for method, _, _ in sent(http)] == ["POST", "POST"]
    assert sent(http)[1][2] == EXPECTED_VERSION
    assert "model projects/demo/models/faceswap exists already" in printed


def test_legacy_needs_cloud_storage_paths():
    with pytest.raises(DeployError, match="--package-uri must be a gs:// path"):
        deploy_legacy(legacy_settings(package_uri="dist/faceswap-routine-0.1.0.tar.gz"), http=HttpMockSequence([]),
                      out=lambda line: None)


def test_dry_run_prints_every_request_without_credentials(capsys, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")  # must not be read
    assert main(["vertex", "--project", "demo", "--image-uri", "img:1", "--artifact-uri", "gs://b/m",
                 "--max-replicas", "5", "--dry-run"]) == 0
    output = capsys.readouterr().out
    bodies = [json.loads(block) for block in _json_blocks(output)]
    assert [body["step"] for body in bodies] == ["upload model", "create endpoint", "deploy model"]
    assert bodies[0]["uri"] == VERTEX + f"{PARENT}/models:upload?alt=json"
    assert bodies[2]["body"]["deployedModel"]["dedicatedResources"]["maxReplicaCount"] == 5

    assert main(["legacy", "--project", "demo", "--package-uri", "gs://b/p.tar.gz", "--deployment-uri", "gs://b/m",
                 "--dry-run"]) == 0
    bodies = [json.loads(block) for block in _json_blocks(capsys.readouterr().out)]
    assert [body["uri"] for body in bodies] == [LEGACY + "projects/demo/models?alt=json",
                                               LEGACY + "projects/demo/models/faceswap/versions?alt=json"]
    assert bodies[1]["body"]["predictionClass"] == "prediction_routine.predictor.ModelPrediction"


def test_command_line_error_is_one_sentence(capsys):
    assert main(["legacy", "--project", "demo"]) == 2
    assert capsys.readouterr().err.strip() == "error: legacy deployment needs --package-uri and --deployment-uri"


def _json_blocks(text: str) -> list[str]:
    """The top-level JSON objects printed one after another (indented, starting with '{' lines)."""
    blocks, current = [], []
    for line in text.splitlines():
        if line == "{":
            current = [line]
        elif current:
            current.append(line)
            if line == "}":
                blocks.append("\n".join(current))
                current = []
    return blocks
