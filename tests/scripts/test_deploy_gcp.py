"""scripts/deploy_gcp.py: the dry run's exact command sequence and Vertex AI request bodies, and a
second run against an existing project (gcloud answers recorded, Vertex AI through HttpMockSequence)
that writes real bundles, collects the static files and undeploys the replaced model."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
import yaml
from googleapiclient.http import HttpMockSequence

from faceswap.errors import FaceswapError
from scripts.deploy_gcp import GcpDeploySettings, Shell, deploy, main, model_digest
from tests.conftest import REPO_ROOT
from tests.prediction_routine.test_deploy import json_blocks

VERTEX = "https://us-central1-aiplatform.googleapis.com/v1/"
PARENT = "projects/demo/locations/us-central1"
IMAGE = "us-central1-docker.pkg.dev/demo/faceswap/prediction:t1"
SA = "faceswap-relay@demo.iam.gserviceaccount.com"
HOST = "demo.uc.r.appspot.com"


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "test"}')
    (folder / "swap_a2b.tflite").write_bytes(b"a2b")
    return folder


def settings(model_dir, build_dir, **overrides) -> GcpDeploySettings:
    return GcpDeploySettings(project="demo", image_tag="t1", model_dir=model_dir, build_dir=build_dir, **overrides)


def expected_commands(model_dir, build_dir, fresh: bool) -> list[str]:
    """Every command of a run, in order; ``fresh``: a dry run (checks fail, everything is created)."""
    digest = model_digest(model_dir)
    project = "--project demo"

    def ensure(check: str, create: str) -> list[str]:
        return [f"$? {check}"] + ([f"$ {create}"] if fresh else [])

    host_query = f"gcloud app describe {project} '--format=value(defaultHostname)'"
    commands = [
        "$ gcloud services enable appengine.googleapis.com aiplatform.googleapis.com "
        "artifactregistry.googleapis.com cloudbuild.googleapis.com storage.googleapis.com "
        f"secretmanager.googleapis.com iam.googleapis.com {project}",
        *ensure(host_query, f"gcloud app create --region=us-central {project}"),
        f"$ {host_query}",
        *ensure(f"gcloud iam service-accounts describe {SA} {project}",
                f"gcloud iam service-accounts create faceswap-relay '--display-name=face-swap relay (calls Vertex AI)' "
                f"{project}"),
        *[f"$ gcloud projects add-iam-policy-binding demo --member=serviceAccount:{SA} --role={role} "
          "--condition=None --quiet"
          for role in ("roles/aiplatform.user", "roles/logging.logWriter", "roles/monitoring.metricWriter")],
        *ensure(f"gcloud artifacts repositories describe faceswap --location=us-central1 {project}",
                f"gcloud artifacts repositories create faceswap --repository-format=docker --location=us-central1 "
                f"{project}"),
        "$ gcloud auth configure-docker us-central1-docker.pkg.dev --quiet",
        f"$ docker build --platform=linux/amd64 -f prediction_routine/Dockerfile -t {IMAGE} .",
        f"$ docker push {IMAGE}",
        *ensure(f"gcloud storage buckets describe gs://demo-faceswap-models {project}",
                "gcloud storage buckets create gs://demo-faceswap-models --location=us-central1 "
                f"--uniform-bucket-level-access {project}"),
        f"$ gcloud storage rsync {model_dir} gs://demo-faceswap-models/models/{digest} --recursive {project}",
    ]
    for name in ("faceswap-session-secret", "faceswap-django-secret-key"):
        commands += ensure(f"gcloud secrets describe {name} {project}",
                           f"gcloud secrets create {name} --replication-policy=automatic --data-file=- {project}")
        commands.append(f"$ gcloud secrets versions access latest --secret={name} {project}")
    commands += [
        f"$ (cd {build_dir / 'page'} && {shlex.quote(sys.executable)} manage.py collectstatic --noinput)",
        f"$ gcloud app deploy {build_dir / 'page' / 'app.yaml'} {project} --quiet",
        f"$ gcloud app deploy {build_dir / 'relay' / 'app.yaml'} {project} --quiet",
    ]
    return commands


def test_dry_run_prints_every_command_and_request_in_order_and_touches_nothing(model_dir, tmp_path):
    printed: list[str] = []
    build_dir = tmp_path / "build"
    shell = Shell(dry_run=True, out=printed.append)
    result = deploy(settings(model_dir, build_dir, dry_run=True), shell, out=printed.append)

    assert shell.commands == expected_commands(model_dir, build_dir, fresh=True)
    requests = [json.loads(block) for block in json_blocks("\n".join(printed))]
    digest = model_digest(model_dir)
    assert requests == [
        {"step": "find endpoint", "method": "GET", "body": None,
         "uri": VERTEX + f"{PARENT}/endpoints?filter=display_name%3D%22faceswap%22&alt=json"},
        {"step": "upload model", "method": "POST", "uri": VERTEX + f"{PARENT}/models:upload?alt=json", "body": {
            "model": {"displayName": "faceswap",
                      "description": "face-swap prediction routine (prediction_routine/server.py)",
                      "containerSpec": {"imageUri": IMAGE, "predictRoute": "/predict", "healthRoute": "/health",
                                        "ports": [{"containerPort": 8080}],
                                        "env": [{"name": "FACESWAP_ROUTINE_BACKEND", "value": "tflite"},
                                                {"name": "WEB_CONCURRENCY", "value": "4"}]},
                      "artifactUri": f"gs://demo-faceswap-models/models/{digest}"}}},
        {"step": "create dedicated endpoint", "method": "POST", "uri": VERTEX + f"{PARENT}/endpoints?alt=json",
         "body": {"displayName": "faceswap", "dedicatedEndpointEnabled": True}},
        {"step": "deploy model", "method": "POST",
         "uri": VERTEX + f"{PARENT}/endpoints/ENDPOINT_ID_FROM_CREATE:deployModel?alt=json", "body": {
             "deployedModel": {"model": f"{PARENT}/models/MODEL_ID_FROM_UPLOAD", "displayName": "faceswap",
                               "dedicatedResources": {
                                   "machineSpec": {"machineType": "n1-standard-4"},
                                   "minReplicaCount": 1, "maxReplicaCount": 3,
                                   "autoscalingMetricSpecs": [{
                                       "metricName": "aiplatform.googleapis.com/prediction/online/cpu/utilization",
                                       "target": 60}]}},
             "trafficSplit": {"0": 100}}},
        {"step": "read endpoint", "method": "GET", "body": None,
         "uri": VERTEX + f"{PARENT}/endpoints/ENDPOINT_ID_FROM_CREATE?alt=json"},
    ]
    # The Vertex requests come after the model upload and before the secrets, as printed.
    upload_line = printed.index(next(line for line in printed if "gcloud storage rsync" in line))
    secrets_line = printed.index(next(line for line in printed if "gcloud secrets describe" in line))
    assert upload_line < printed.index(next(line for line in printed if '"step": "find endpoint"' in line)) \
        < secrets_line
    assert result["page_url"] == "https://demo.REGION_ID.r.appspot.com"
    assert result["relay_url"] == "wss://relay-dot-demo.REGION_ID.r.appspot.com/stream"
    assert not build_dir.exists()                                   # a dry run writes nothing
    assert not any("<faceswap-session-secret>" in line for line in printed)   # secrets are masked


class RecordedCloud(Shell):
    """gcloud and docker as they answer for a project deployed before: every describe succeeds,
    the host name and the secrets come back. Commands are recorded exactly as a real run makes them."""

    ANSWERS = {"--format=value(defaultHostname)": HOST,
               "--secret=faceswap-session-secret": "session-secret-" + "s" * 40,
               "--secret=faceswap-django-secret-key": "django-secret-" + "d" * 40}

    def __init__(self, out):
        super().__init__(dry_run=False, out=out)

    def run(self, command, cwd=None, stdin=None, placeholder=""):
        self.show(command, cwd)
        return next((answer for flag, answer in self.ANSWERS.items() if flag in command), "")

    def stream(self, command):
        self.show(command)

    def succeeds(self, command):
        self.show(command, prefix="$?")
        return True


def ok(body: dict) -> tuple[dict, str]:
    return {"status": "200"}, json.dumps(body)


def test_second_run_updates_writes_configured_bundles_and_undeploys_the_replaced_model(model_dir, tmp_path):
    endpoint = f"{PARENT}/endpoints/777"
    dns = "777.us-central1-42.prediction.vertexai.goog"
    old = {"id": "111", "model": f"{PARENT}/models/1"}
    http = HttpMockSequence([
        ok({"endpoints": [{"name": endpoint, "dedicatedEndpointEnabled": True, "dedicatedEndpointDns": dns,
                           "deployedModels": [old]}]}),
        ok({"name": f"{PARENT}/models/2/operations/1", "done": True, "response": {"model": f"{PARENT}/models/2"}}),
        ok({"name": f"{endpoint}/operations/2", "done": True, "response": {"deployedModel": {"id": "222"}}}),
        ok({"name": endpoint, "dedicatedEndpointDns": dns, "deployedModels": [old, {"id": "222"}]}),
        ok({"name": f"{endpoint}/operations/3", "done": True, "response": {}}),
    ])
    printed: list[str] = []
    build_dir = tmp_path / "build"
    shell = RecordedCloud(printed.append)
    result = deploy(settings(model_dir, build_dir), shell, http=http, out=printed.append)

    assert shell.commands == expected_commands(model_dir, build_dir, fresh=False)
    assert [(method, uri) for uri, method, _, _ in http.request_sequence][-1] == \
        ("POST", VERTEX + f"{endpoint}:undeployModel?alt=json")
    assert result["vertex"].undeployed == ["111"]
    assert result["page_url"] == f"https://{HOST}"

    relay = yaml.safe_load((build_dir / "relay" / "app.yaml").read_text())
    assert relay["service"] == "relay" and relay["service_account"] == SA
    assert {key: relay["env_variables"][key] for key in (
        "FACESWAP_PREDICTION_PROJECT", "FACESWAP_PREDICTION_ENDPOINT_ID", "FACESWAP_PREDICTION_API_ENDPOINT",
        "RELAY_ALLOWED_ORIGINS", "FACESWAP_SESSION_SECRET")} == {
        "FACESWAP_PREDICTION_PROJECT": "demo", "FACESWAP_PREDICTION_ENDPOINT_ID": "777",
        "FACESWAP_PREDICTION_API_ENDPOINT": f"https://{dns}", "RELAY_ALLOWED_ORIGINS": f"https://{HOST}",
        "FACESWAP_SESSION_SECRET": "session-secret-" + "s" * 40}
    page = yaml.safe_load((build_dir / "page" / "app.yaml").read_text())
    assert page["env_variables"]["FACESWAP_WEBSOCKET_URL"] == f"wss://relay-dot-{HOST}/stream"
    assert page["env_variables"]["DJANGO_ALLOWED_HOSTS"] == HOST
    assert "service" not in page                                    # the default service
    assert yaml.safe_load((build_dir / "page" / "secret_env.yaml").read_text())["env_variables"] == {
        "DJANGO_SECRET_KEY": "django-secret-" + "d" * 40, "FACESWAP_SESSION_SECRET": "session-secret-" + "s" * 40}
    assert (build_dir / "page" / "staticfiles" / "facedetect" / "app.js").is_file()
    assert any(line.startswith("the page uploads ") for line in printed)


def test_settings_are_checked_before_any_command(tmp_path, capsys):
    with pytest.raises(FaceswapError, match="holds no exported model"):
        GcpDeploySettings(project="demo", model_dir=tmp_path)
    assert main(["--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == "error: the deployment needs --project"


def test_the_documented_command_runs_as_a_script():
    result = subprocess.run([sys.executable, "scripts/deploy_gcp.py", "--project", "demo", "--image-tag", "t1",
                             "--dry-run"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "$ gcloud app deploy" in result.stdout and '"dedicatedEndpointEnabled": true' in result.stdout
