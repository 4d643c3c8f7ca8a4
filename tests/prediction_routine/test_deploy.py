"""prediction_routine.deploy through googleapiclient's HttpMockSequence: exact URLs, methods, bodies.

A first run finds no endpoint and creates a dedicated one; a second run finds it, deploys the new
model with all traffic and undeploys the model it replaced (so that it stops billing)."""

from __future__ import annotations

import json

import pytest
from googleapiclient.http import HttpMockSequence

from prediction_routine.deploy import (CPU_UTILIZATION_METRIC, DeployError, VertexDeploySettings, deploy_vertex, main,
                                       machine_vcpus)

VERTEX = "https://us-central1-aiplatform.googleapis.com/v1/"
PARENT = "projects/demo/locations/us-central1"
MODEL = f"{PARENT}/models/4242"
ENDPOINT = f"{PARENT}/endpoints/777"
DNS = "777.us-central1-123456789.prediction.vertexai.goog"
IMAGE = "us-central1-docker.pkg.dev/demo/faceswap/prediction:1"
FIND = ("GET", VERTEX + f"{PARENT}/endpoints?filter=display_name%3D%22faceswap%22&alt=json", None)
UPLOAD_BODY = {"model": {
    "displayName": "faceswap",
    "description": "face-swap prediction routine (prediction_routine/server.py)",
    "containerSpec": {"imageUri": IMAGE, "predictRoute": "/predict", "healthRoute": "/health",
                      "ports": [{"containerPort": 8080}],
                      "env": [{"name": "FACESWAP_ROUTINE_BACKEND", "value": "tflite"},
                              {"name": "WEB_CONCURRENCY", "value": "4"}]},
    "artifactUri": "gs://demo-models/default"}}
DEPLOY_BODY = {
    "deployedModel": {"model": MODEL, "displayName": "faceswap", "dedicatedResources": {
        "machineSpec": {"machineType": "n1-standard-4"}, "minReplicaCount": 1, "maxReplicaCount": 4,
        "autoscalingMetricSpecs": [{"metricName": CPU_UTILIZATION_METRIC, "target": 60}]}},
    "trafficSplit": {"0": 100}}


def ok(body: dict) -> tuple[dict, str]:
    return {"status": "200"}, json.dumps(body)


def vertex_settings(**overrides) -> VertexDeploySettings:
    values = dict(project="demo", image_uri=IMAGE, artifact_uri="gs://demo-models/default", min_replicas=1,
                  max_replicas=4, machine_type="n1-standard-4", poll_interval_s=0.0)
    values.update(overrides)
    return VertexDeploySettings(**values)


def sent(http: HttpMockSequence) -> list[tuple[str, str, dict | None]]:
    return [(method, uri, json.loads(body) if body else None) for uri, method, body, _ in http.request_sequence]


def test_first_run_creates_a_dedicated_endpoint_and_deploys_with_autoscaling():
    http = HttpMockSequence([
        ok({}),                                                       # no endpoint named faceswap yet
        ok({"name": f"{MODEL}/operations/1"}),
        ok({"name": f"{MODEL}/operations/1", "done": False}),
        ok({"name": f"{MODEL}/operations/1", "done": True, "response": {"model": MODEL}}),
        ok({"name": f"{ENDPOINT}/operations/2", "done": True, "response": {"name": ENDPOINT}}),
        ok({"name": f"{ENDPOINT}/operations/3"}),
        ok({"name": f"{ENDPOINT}/operations/3", "done": True, "response": {"deployedModel": {"id": "222"}}}),
        ok({"name": ENDPOINT, "dedicatedEndpointEnabled": True, "dedicatedEndpointDns": DNS,
            "deployedModels": [{"id": "222", "model": MODEL}]}),
    ])
    printed: list[str] = []
    result = deploy_vertex(vertex_settings(), http=http, out=printed.append)

    assert sent(http) == [
        FIND,
        ("POST", VERTEX + f"{PARENT}/models:upload?alt=json", UPLOAD_BODY),
        ("GET", VERTEX + f"{MODEL}/operations/1?alt=json", None),
        ("GET", VERTEX + f"{MODEL}/operations/1?alt=json", None),
        ("POST", VERTEX + f"{PARENT}/endpoints?alt=json", {"displayName": "faceswap", "dedicatedEndpointEnabled": True}),
        ("POST", VERTEX + f"{ENDPOINT}:deployModel?alt=json", DEPLOY_BODY),
        ("GET", VERTEX + f"{ENDPOINT}/operations/3?alt=json", None),
        ("GET", VERTEX + f"{ENDPOINT}?alt=json", None),
    ]
    assert (result.endpoint, result.model, result.deployed_model_id, result.undeployed) == (ENDPOINT, MODEL, "222", [])
    assert result.relay_environment() == {
        "FACESWAP_PREDICTION_TARGET": "vertex", "FACESWAP_PREDICTION_PROJECT": "demo",
        "FACESWAP_PREDICTION_LOCATION": "us-central1", "FACESWAP_PREDICTION_ENDPOINT_ID": "777",
        "FACESWAP_PREDICTION_API_ENDPOINT": f"https://{DNS}"}
    assert f"  FACESWAP_PREDICTION_API_ENDPOINT=https://{DNS}" in printed[-1]


def test_second_run_reuses_the_endpoint_and_undeploys_the_replaced_model():
    old = {"id": "111", "model": f"{PARENT}/models/1000"}
    http = HttpMockSequence([
        ok({"endpoints": [{"name": ENDPOINT, "displayName": "faceswap", "dedicatedEndpointEnabled": True,
                           "dedicatedEndpointDns": DNS, "deployedModels": [old]}]}),
        ok({"name": f"{MODEL}/operations/1", "done": True, "response": {"model": MODEL}}),
        ok({"name": f"{ENDPOINT}/operations/3", "done": True, "response": {"deployedModel": {"id": "222"}}}),
        ok({"name": ENDPOINT, "dedicatedEndpointEnabled": True, "dedicatedEndpointDns": DNS,
            "deployedModels": [old, {"id": "222", "model": MODEL}], "trafficSplit": {"222": 100}}),
        ok({"name": f"{ENDPOINT}/operations/4"}),
        ok({"name": f"{ENDPOINT}/operations/4", "done": True, "response": {}}),
    ])
    printed: list[str] = []
    result = deploy_vertex(vertex_settings(), http=http, out=printed.append)

    assert sent(http) == [
        FIND,
        ("POST", VERTEX + f"{PARENT}/models:upload?alt=json", UPLOAD_BODY),
        ("POST", VERTEX + f"{ENDPOINT}:deployModel?alt=json", DEPLOY_BODY),
        ("GET", VERTEX + f"{ENDPOINT}?alt=json", None),
        ("POST", VERTEX + f"{ENDPOINT}:undeployModel?alt=json", {"deployedModelId": "111"}),
        ("GET", VERTEX + f"{ENDPOINT}/operations/4?alt=json", None),
    ]
    assert result.undeployed == ["111"]
    assert "undeployed the replaced model(s): 111" in printed


def test_an_existing_shared_endpoint_is_refused_before_anything_is_uploaded():
    http = HttpMockSequence([ok({"endpoints": [{"name": ENDPOINT, "displayName": "faceswap"}]})])
    with pytest.raises(DeployError, match="shared public endpoint .*30,000 predictions per minute"):
        deploy_vertex(vertex_settings(), http=http, out=lambda line: None)
    assert len(http.request_sequence) == 1


def test_an_explicit_endpoint_id_is_read_instead_of_searched():
    http = HttpMockSequence([
        ok({"name": f"{PARENT}/endpoints/55", "dedicatedEndpointEnabled": True, "dedicatedEndpointDns": DNS}),
        ok({"name": f"{MODEL}/operations/1", "done": True, "response": {"model": MODEL}}),
        ok({"name": f"{PARENT}/endpoints/55/operations/3", "done": True, "response": {"deployedModel": {"id": "9"}}}),
        ok({"name": f"{PARENT}/endpoints/55", "dedicatedEndpointDns": DNS, "deployedModels": [{"id": "9"}]}),
    ])
    result = deploy_vertex(vertex_settings(endpoint_id="55"), http=http, out=lambda line: None)
    assert result.endpoint == f"{PARENT}/endpoints/55"
    assert [(method, uri) for method, uri, _ in sent(http)] == [
        ("GET", VERTEX + f"{PARENT}/endpoints/55?alt=json"),
        ("POST", VERTEX + f"{PARENT}/models:upload?alt=json"),
        ("POST", VERTEX + f"{PARENT}/endpoints/55:deployModel?alt=json"),
        ("GET", VERTEX + f"{PARENT}/endpoints/55?alt=json")]


def test_failed_operation_is_a_clear_error():
    http = HttpMockSequence([
        ok({}),
        ok({"name": f"{MODEL}/operations/1", "done": True,
            "error": {"code": 3, "message": "Image not found: us-central1-docker.pkg.dev/demo/x"}}),
    ])
    with pytest.raises(DeployError, match="upload model failed: Image not found"):
        deploy_vertex(vertex_settings(), http=http, out=lambda line: None)


def test_refused_request_names_the_step():
    http = HttpMockSequence([({"status": "403"}, json.dumps(
        {"error": {"code": 403, "message": "Permission denied on resource project demo.", "status": "PERMISSION_DENIED"}}))])
    with pytest.raises(DeployError, match=r"find endpoint was refused: HTTP 403 Permission denied"):
        deploy_vertex(vertex_settings(), http=http, out=lambda line: None)


def test_the_model_is_required_and_settings_are_checked_before_any_request():
    http = HttpMockSequence([])
    with pytest.raises(DeployError, match="needs --artifact-uri"):
        deploy_vertex(vertex_settings(artifact_uri=""), http=http, out=lambda line: None)
    with pytest.raises(DeployError, match="must be a gs:// folder"):
        deploy_vertex(vertex_settings(artifact_uri="models/default"), http=http, out=lambda line: None)
    with pytest.raises(DeployError, match="--image-uri"):
        deploy_vertex(vertex_settings(image_uri=""), http=http, out=lambda line: None)
    with pytest.raises(DeployError, match="replica"):
        deploy_vertex(vertex_settings(min_replicas=3, max_replicas=2), http=http, out=lambda line: None)
    with pytest.raises(DeployError, match="--workers"):
        deploy_vertex(vertex_settings(machine_type="a2-ultragpu-1g"), http=http, out=lambda line: None)
    assert http.request_sequence == []


@pytest.mark.parametrize("machine_type,vcpus,workers", [("n1-standard-4", 4, 4), ("n1-standard-2", 2, 2),
                                                         ("e2-highcpu-8", 8, 8), ("n2-highmem-16", 16, 16)])
def test_workers_keep_a_busy_replica_above_the_cpu_target(machine_type, vcpus, workers):
    assert machine_vcpus(machine_type) == vcpus
    assert vertex_settings(machine_type=machine_type).worker_count == workers
    assert vertex_settings(machine_type=machine_type, workers=3).worker_count == 3


def test_dry_run_prints_every_request_without_credentials(capsys, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")  # must not be read
    assert main(["--project", "demo", "--image-uri", "img:1", "--artifact-uri", "gs://b/m",
                 "--max-replicas", "5", "--dry-run"]) == 0
    output = capsys.readouterr().out
    blocks = [json.loads(block) for block in json_blocks(output)]
    assert [block["step"] for block in blocks] == ["find endpoint", "upload model", "create dedicated endpoint",
                                                   "deploy model", "read endpoint"]
    assert blocks[1]["body"]["model"]["artifactUri"] == "gs://b/m"
    assert blocks[3]["uri"] == VERTEX + f"{PARENT}/endpoints/ENDPOINT_ID_FROM_CREATE:deployModel?alt=json"
    assert blocks[3]["body"]["deployedModel"]["dedicatedResources"]["maxReplicaCount"] == 5


def test_command_line_error_is_one_sentence(capsys):
    assert main(["--project", "demo", "--image-uri", "img:1"]) == 2
    assert capsys.readouterr().err.strip() == "error: vertex deployment needs --artifact-uri"


def json_blocks(text: str) -> list[str]:
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
