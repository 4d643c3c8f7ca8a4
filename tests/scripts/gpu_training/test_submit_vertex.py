"""scripts/gpu_training/submit_vertex.py through googleapiclient's HttpMockSequence: the exact
customJobs.create request (GPU machine, container, Cloud Storage paths through the FUSE mount,
timeout), polling to the end with --wait, a failed job and bad settings as clear errors, and a dry
run that sends nothing."""

from __future__ import annotations

import json

import pytest
from googleapiclient.http import HttpMockSequence

from prediction_routine.deploy import DeployError
from scripts.gpu_training.submit_vertex import VertexTrainingSettings, fuse_path, main, submit_training_job

VERTEX = "https://us-central1-aiplatform.googleapis.com/v1/"
PARENT = "projects/demo/locations/us-central1"
JOB = f"{PARENT}/customJobs/9001"
IMAGE = "us-central1-docker.pkg.dev/demo/faceswap/train:1"
CREATE_BODY = {
    "displayName": "faceswap-train",
    "jobSpec": {
        "workerPoolSpecs": [{
            "machineSpec": {"machineType": "g2-standard-16", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1},
            "replicaCount": "1",
            "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100},
            "containerSpec": {
                "imageUri": IMAGE,
                "command": ["python3", "scripts/gpu_training/train_gpu.py"],
                "args": ["--bundle", "/gcs/demo-data/faceswap/bundle", "--output", "/gcs/demo-data/faceswap/runs/1",
                         "--backend", "jax", "--minutes", "45", "--batch-size", "64"],
                "env": [{"name": "KERAS_BACKEND", "value": "jax"}]},
        }],
        "baseOutputDirectory": {"outputUriPrefix": "gs://demo-data/faceswap/runs/1"},
        "scheduling": {"timeout": "3900s"},
    },
    "labels": {"app": "faceswap", "stage": "train"},
}


def ok(body: dict) -> tuple[dict, str]:
    return {"status": "200"}, json.dumps(body)


def training_settings(**overrides) -> VertexTrainingSettings:
    values = dict(project="demo", image_uri=IMAGE, bundle_uri="gs://demo-data/faceswap/bundle/",
                  output_uri="gs://demo-data/faceswap/runs/1", minutes=45, train_args="--batch-size 64",
                  poll_interval_s=0.0)
    values.update(overrides)
    return VertexTrainingSettings(**values)


def sent(http: HttpMockSequence) -> list[tuple[str, str, dict | None]]:
    return [(method, uri, json.loads(body) if body else None) for uri, method, body, _ in http.request_sequence]


def test_submit_creates_one_gpu_custom_job_with_the_data_and_output_in_cloud_storage():
    http = HttpMockSequence([ok({"name": JOB, "state": "JOB_STATE_PENDING"})])
    printed: list[str] = []
    job = submit_training_job(training_settings(), http=http, out=printed.append)
    assert sent(http) == [("POST", VERTEX + f"{PARENT}/customJobs?alt=json", CREATE_BODY)]
    assert job["name"] == JOB
    assert printed == [f"custom job: {JOB} (JOB_STATE_PENDING); output in gs://demo-data/faceswap/runs/1"]


def test_wait_polls_until_the_job_succeeds():
    http = HttpMockSequence([ok({"name": JOB, "state": "JOB_STATE_PENDING"}),
                             ok({"name": JOB, "state": "JOB_STATE_RUNNING"}),
                             ok({"name": JOB, "state": "JOB_STATE_SUCCEEDED"})])
    pauses: list[float] = []
    settings = training_settings(wait=True, poll_interval_s=30.0, machine_type="a2-highgpu-1g",
                                 accelerator_type="NVIDIA_TESLA_A100", backend="torch", service_account="t@demo.iam")
    job = submit_training_job(settings, http=http, out=lambda line: None, sleep=pauses.append)
    requests = sent(http)
    body = requests[0][2]
    pool = body["jobSpec"]["workerPoolSpecs"][0]
    assert pool["machineSpec"] == {"machineType": "a2-highgpu-1g", "acceleratorType": "NVIDIA_TESLA_A100",
                                   "acceleratorCount": 1}
    assert pool["containerSpec"]["env"] == [{"name": "KERAS_BACKEND", "value": "torch"}]
    assert pool["containerSpec"]["args"][4:6] == ["--backend", "torch"]
    assert body["jobSpec"]["serviceAccount"] == "t@demo.iam"
    assert requests[1:] == [("GET", VERTEX + f"{JOB}?alt=json", None)] * 2
    assert pauses == [30.0, 30.0] and job["state"] == "JOB_STATE_SUCCEEDED"


def test_a_failed_job_is_a_clear_error():
    http = HttpMockSequence([ok({"name": JOB, "state": "JOB_STATE_RUNNING"}),
                             ok({"name": JOB, "state": "JOB_STATE_FAILED",
                                 "error": {"code": 8, "message": "The replica workerpool0-0 ran out of memory"}})])
    with pytest.raises(DeployError, match="ended JOB_STATE_FAILED: The replica workerpool0-0 ran out of memory"):
        submit_training_job(training_settings(wait=True), http=http, out=lambda line: None, sleep=lambda s: None)


def test_a_refused_request_is_a_clear_error():
    http = HttpMockSequence([({"status": "403"}, json.dumps({"error": {
        "code": 403, "message": "Permission 'aiplatform.customJobs.create' denied"}}))])
    with pytest.raises(DeployError, match="create custom job was refused: HTTP 403 Permission 'aiplatform.customJobs"):
        submit_training_job(training_settings(), http=http, out=lambda line: None)


@pytest.mark.parametrize("overrides, message", [
    ({"project": ""}, "needs --project"),
    ({"bundle_uri": "/local/bundle"}, "--bundle-uri must be a gs:// folder"),
    ({"output_uri": "gs://"}, "--output-uri must be a gs:// folder"),
    ({"minutes": 0}, "--minutes must be positive"),
])
def test_bad_settings_send_nothing(overrides, message):
    http = HttpMockSequence([])
    with pytest.raises(DeployError, match=message):
        submit_training_job(training_settings(**overrides), http=http, out=lambda line: None)
    assert http.request_sequence == []


def test_dry_run_prints_the_exact_request_and_sends_nothing(capsys):
    code = main(["--project", "demo", "--image-uri", IMAGE, "--bundle-uri", "gs://demo-data/faceswap/bundle",
                 "--output-uri", "gs://demo-data/faceswap/runs/1", "--minutes", "45", "--train-args=--batch-size 64",
                 "--dry-run"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"step": "create custom job", "method": "POST", "uri": VERTEX + f"{PARENT}/customJobs?alt=json",
                       "body": CREATE_BODY}


def test_fuse_path_maps_a_bucket_uri_to_the_vertex_mount():
    assert fuse_path("gs://b/x/y/") == "/gcs/b/x/y"
