"""Deploy the prediction routine to Google Cloud with google-api-python-client.

Two targets, both driven through the static discovery documents bundled with the library:

``vertex`` (primary; the legacy AI Platform prediction service was shut down on 2025-01-31)
    1. ``POST v1/projects/{p}/locations/{l}/models:upload`` — a Model whose containerSpec is the
       prediction server image (prediction_routine/Dockerfile, pushed to Artifact Registry
       beforehand), its predict/health routes and port, and ``artifactUri`` (the exported model
       directory on Cloud Storage; the container sees it as AIP_STORAGE_URI);
    2. ``POST v1/projects/{p}/locations/{l}/endpoints`` — a new endpoint (skipped with --endpoint-id);
    3. ``POST v1/{endpoint}:deployModel`` — dedicatedResources (machine type, min/max replicas,
       CPU-utilisation autoscaling target), all traffic to the new model;
    each long-running operation is polled with ``operations.get`` until done. The endpoint to give
    the relay is printed at the end (as FACESWAP_PREDICTION_* variables).

``legacy`` (AI Platform custom prediction routine, kept because the original project targets it)
    ``POST v1/projects/{p}/models`` then ``POST v1/projects/{p}/models/{m}/versions`` with
    predictionClass ``prediction_routine.predictor.ModelPrediction``, packageUris (the sdist from
    ``python setup.py sdist``, copied to Cloud Storage), deploymentUri (the model directory),
    runtime/python version, machine type ``mls1-c4-m2`` and autoScaling.minNodes.

``--dry-run`` prints every request (method, URL, JSON body) without credentials or network.
Real runs use Application Default Credentials (``gcloud auth application-default login`` or the
attached service account) — never a key file in the repository.

    python -m prediction_routine.deploy vertex --project P --image-uri IMAGE --artifact-uri gs://B/model
    python -m prediction_routine.deploy legacy --project P --package-uri gs://B/pkg.tar.gz \
        --deployment-uri gs://B/model --dry-run
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from faceswap.errors import FaceswapError
from faceswap.settings import add_dataclass_arguments, setting, settings_from

logger = logging.getLogger(__name__)

PREDICTION_CLASS = "prediction_routine.predictor.ModelPrediction"
CPU_UTILIZATION_METRIC = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
CLOUD_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


class DeployError(FaceswapError):
    """A deployment step failed (bad settings, a refused request or a failed operation)."""


@dataclass
class VertexDeploySettings:
    """Vertex AI deployment: model upload, endpoint, deployment with autoscaling."""

    project: str = setting("", "Google Cloud project id (required)")
    location: str = setting("us-central1", "Vertex AI region")
    display_name: str = setting("faceswap", "display name of the model, endpoint and deployed model")
    image_uri: str = setting("", "prediction server image in Artifact Registry (required), "
                                 "built from prediction_routine/Dockerfile")
    artifact_uri: str | None = setting(None, "gs:// folder of the exported model (the container's AIP_STORAGE_URI)")
    predict_route: str = setting("/predict", "route the container serves predictions on (AIP_PREDICT_ROUTE)")
    health_route: str = setting("/health", "route the container answers health checks on (AIP_HEALTH_ROUTE)")
    port: int = setting(8080, "port the container listens on (AIP_HTTP_PORT)")
    backend: str = setting("tflite", "model runtime inside the container", choices=("tflite", "savedmodel"))
    machine_type: str = setting("n1-standard-4", "machine type of each replica")
    min_replicas: int = setting(1, "fewest replicas (autoscaling floor, >= 1 keeps the endpoint warm)")
    max_replicas: int = setting(3, "most replicas (autoscaling ceiling)")
    target_cpu_utilization: int = setting(60, "CPU utilisation percent that autoscaling aims for")
    endpoint_id: str | None = setting(None, "deploy into this existing endpoint instead of creating one")
    poll_interval_s: float = setting(10.0, "seconds between long-running-operation polls")
    timeout_s: float = setting(3600.0, "give up waiting for one operation after this many seconds")
    dry_run: bool = setting(False, "print every request body and send nothing (no credentials needed)")

    def check(self) -> None:
        missing = [name for name in ("project", "image_uri") if not getattr(self, name)]
        if missing:
            raise DeployError("vertex deployment needs " + " and ".join("--" + m.replace("_", "-") for m in missing))
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise DeployError(f"replica counts must satisfy 1 <= min ({self.min_replicas}) <= max ({self.max_replicas})")
        if self.artifact_uri and not self.artifact_uri.startswith("gs://"):
            raise DeployError(f"--artifact-uri must be a gs:// folder, got {self.artifact_uri!r}")


@dataclass
class LegacyDeploySettings:
    """Legacy AI Platform custom prediction routine: model + version."""

    project: str = setting("", "Google Cloud project id (required)")
    region: str = setting("us-central1", "region of the model")
    model: str = setting("faceswap", "model name")
    version: str = setting("v1", "version name")
    package_uri: str = setting("", "gs:// path of the sdist built by `python setup.py sdist` (required)")
    deployment_uri: str = setting("", "gs:// folder of the exported model directory (required)")
    runtime_version: str = setting("2.11", "AI Platform runtime version")
    python_version: str = setting("3.7", "Python version of the runtime")
    machine_type: str = setting("mls1-c4-m2", "machine type (custom prediction routines need an mls1 type)")
    min_nodes: int = setting(1, "autoScaling.minNodes (nodes kept warm)")
    poll_interval_s: float = setting(10.0, "seconds between long-running-operation polls")
    timeout_s: float = setting(3600.0, "give up waiting for one operation after this many seconds")
    dry_run: bool = setting(False, "print every request body and send nothing (no credentials needed)")

    def check(self) -> None:
        missing = [name for name in ("project", "package_uri", "deployment_uri") if not getattr(self, name)]
        if missing:
            raise DeployError("legacy deployment needs " + " and ".join("--" + m.replace("_", "-") for m in missing))
        for name in ("package_uri", "deployment_uri"):
            if not getattr(self, name).startswith("gs://"):
                raise DeployError(f"--{name.replace('_', '-')} must be a gs:// path, got {getattr(self, name)!r}")


class _Calls:
    """Runs (or, in a dry run, prints) requests and waits for long-running operations."""

    def __init__(self, dry_run: bool, poll_interval_s: float, timeout_s: float,
                 operation_getter: Callable[[str], Any], out: Callable[[str], None]):
        self.dry_run = dry_run
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.operation_getter = operation_getter
        self.out = out
        self.requests: list[dict] = []

    def send(self, request, step: str) -> dict | None:
        """Execute ``request`` (a googleapiclient HttpRequest); in a dry run print it and return None."""
        body = json.loads(request.body) if request.body else None
        self.requests.append({"step": step, "method": request.method, "uri": request.uri, "body": body})
        if self.dry_run:
            self.out(json.dumps(self.requests[-1], indent=2))
            return None
        from googleapiclient.errors import HttpError
        logger.info("%s: %s %s", step, request.method, request.uri)
        try:
            return request.execute(num_retries=3)
        except HttpError as error:
            raise DeployError(f"{step} was refused: HTTP {error.resp.status} {_error_message(error)}") from None

    def wait(self, operation: dict | None, step: str) -> dict | None:
        """Poll a long-running operation until done; return its ``response`` (None in a dry run)."""
        if operation is None:
            return None
        deadline = time.monotonic() + self.timeout_s
        while not operation.get("done"):
            if time.monotonic() > deadline:
                raise DeployError(f"{step}: operation {operation.get('name')} not done after {self.timeout_s:.0f} s")
            time.sleep(self.poll_interval_s)
            operation = self.send(self.operation_getter(operation["name"]), f"{step} (poll)") or {}
        if "error" in operation:
            error = operation["error"]
            raise DeployError(f"{step} failed: {error.get('message', error)} (code {error.get('code')})")
        return operation.get("response", {})


def _error_message(error) -> str:
    try:
        detail = json.loads(error.content.decode("utf-8", "replace")).get("error", {})
        return detail.get("message", "") if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        return str(error)


def _build(service: str, api_endpoint: str | None, http, dry_run: bool):
    """A discovery client from the bundled static document: ``http`` (tests), anonymous (dry run) or ADC."""
    from google.api_core.client_options import ClientOptions
    from googleapiclient import discovery

    options = ClientOptions(api_endpoint=api_endpoint) if api_endpoint else None
    if http is not None:
        return discovery.build(service, "v1", http=http, static_discovery=True, cache_discovery=False,
                               client_options=options)
    if dry_run:
        from google.auth.credentials import AnonymousCredentials
        credentials = AnonymousCredentials()
    else:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        try:
            credentials, _ = google.auth.default(scopes=CLOUD_SCOPES)
        except DefaultCredentialsError as error:
            raise DeployError("no Google Application Default Credentials: run "
                              f"`gcloud auth application-default login` or use --dry-run ({error})") from None
    return discovery.build(service, "v1", credentials=credentials, static_discovery=True, cache_discovery=False,
                               client_options=options)


# -- Vertex AI ---------------------------------------------------------------------------------------

def vertex_model_body(settings: VertexDeploySettings) -> dict:
    """The Model resource uploaded to Vertex AI (custom prediction container)."""
    container = {
        "imageUri": settings.image_uri,
        "predictRoute": settings.predict_route,
        "healthRoute": settings.health_route,
        "ports": [{"containerPort": settings.port}],
        "env": [{"name": "FACESWAP_ROUTINE_BACKEND", "value": settings.backend}],
    }
    model = {"displayName": settings.display_name,
             "description": "face-swap prediction routine (prediction_routine/server.py)",
             "containerSpec": container}
    if settings.artifact_uri:
        model["artifactUri"] = settings.artifact_uri
    return model


def vertex_deploy_body(settings: VertexDeploySettings, model_name: str) -> dict:
    """The deployModel request: dedicated resources with autoscaling, all traffic to this model."""
    return {
        "deployedModel": {
            "model": model_name,
            "displayName": settings.display_name,
            "dedicatedResources": {
                "machineSpec": {"machineType": settings.machine_type},
                "minReplicaCount": settings.min_replicas,
                "maxReplicaCount": settings.max_replicas,
                "autoscalingMetricSpecs": [{"metricName": CPU_UTILIZATION_METRIC,
                                            "target": settings.target_cpu_utilization}],
            },
        },
        "trafficSplit": {"0": 100},
    }


def _vertex_operation_getter(service):
    locations = service.projects().locations()

    def get(name: str):
        if re.match(r"^projects/[^/]+/locations/[^/]+/models/[^/]+/operations/[^/]+$", name):
            return locations.models().operations().get(name=name)
        if re.match(r"^projects/[^/]+/locations/[^/]+/endpoints/[^/]+/operations/[^/]+$", name):
            return locations.endpoints().operations().get(name=name)
        return locations.operations().get(name=name)
    return get


def deploy_vertex(settings: VertexDeploySettings, http=None, out: Callable[[str], None] = print) -> dict:
    """Upload, create the endpoint, deploy; return {"model", "endpoint", "requests"}.

    ``http``: an httplib2-like object for every call (tests pass googleapiclient's HttpMockSequence).
    """
    settings.check()
    service = _build("aiplatform", f"https://{settings.location}-aiplatform.googleapis.com", http, settings.dry_run)
    calls = _Calls(settings.dry_run, settings.poll_interval_s, settings.timeout_s,
                   _vertex_operation_getter(service), out)
    locations = service.projects().locations()
    parent = f"projects/{settings.project}/locations/{settings.location}"

    upload = calls.send(locations.models().upload(parent=parent, body={"model": vertex_model_body(settings)}),
                        "upload model")
    uploaded = calls.wait(upload, "upload model")
    model_name = uploaded["model"] if uploaded else f"{parent}/models/MODEL_ID_FROM_UPLOAD"

    if settings.endpoint_id:
        endpoint_name = f"{parent}/endpoints/{settings.endpoint_id}"
    else:
        created = calls.send(locations.endpoints().create(parent=parent, body={"displayName": settings.display_name}),
                             "create endpoint")
        endpoint = calls.wait(created, "create endpoint")
        endpoint_name = endpoint["name"] if endpoint else f"{parent}/endpoints/ENDPOINT_ID_FROM_CREATE"

    deployment = calls.send(locations.endpoints().deployModel(endpoint=endpoint_name,
                                                              body=vertex_deploy_body(settings, model_name)),
                            "deploy model")
    calls.wait(deployment, "deploy model")

    endpoint_id = endpoint_name.rsplit("/", 1)[-1]
    out(f"endpoint: {endpoint_name}")
    out("relay settings:\n"
        f"  FACESWAP_PREDICTION_TARGET=vertex\n  FACESWAP_PREDICTION_PROJECT={settings.project}\n"
        f"  FACESWAP_PREDICTION_LOCATION={settings.location}\n  FACESWAP_PREDICTION_ENDPOINT_ID={endpoint_id}")
    return {"model": model_name, "endpoint": endpoint_name, "requests": calls.requests}


# -- legacy AI Platform ------------------------------------------------------------------------------

def legacy_version_body(settings: LegacyDeploySettings) -> dict:
    """The Version resource of the custom prediction routine."""
    return {
        "name": settings.version,
        "deploymentUri": settings.deployment_uri,
        "runtimeVersion": settings.runtime_version,
        "pythonVersion": settings.python_version,
        "machineType": settings.machine_type,
        "packageUris": [settings.package_uri],
        "predictionClass": PREDICTION_CLASS,
        "autoScaling": {"minNodes": settings.min_nodes},
    }


def deploy_legacy(settings: LegacyDeploySettings, http=None, out: Callable[[str], None] = print) -> dict:
    """Create the model (an existing one is reused) and the version; return {"version", "requests"}."""
    settings.check()
    service = _build("ml", None, http, settings.dry_run)
    projects = service.projects()
    calls = _Calls(settings.dry_run, settings.poll_interval_s, settings.timeout_s,
                   lambda name: projects.operations().get(name=name), out)
    parent = f"projects/{settings.project}"
    model_name = f"{parent}/models/{settings.model}"

    create_model = projects.models().create(parent=parent, body={"name": settings.model,
                                                                 "regions": [settings.region]})
    try:
        calls.send(create_model, "create model")
    except DeployError as error:
        if "HTTP 409" not in str(error):
            raise
        logger.info("model %s exists already; adding a version", model_name)
        out(f"model {model_name} exists already")

    operation = calls.send(projects.models().versions().create(parent=model_name, body=legacy_version_body(settings)),
                           "create version")
    calls.wait(operation, "create version")
    version_name = f"{model_name}/versions/{settings.version}"
    out(f"version: {version_name}")
    out("relay settings:\n"
        f"  FACESWAP_PREDICTION_TARGET=legacy\n  FACESWAP_PREDICTION_PROJECT={settings.project}\n"
        f"  FACESWAP_PREDICTION_MODEL={settings.model}\n  FACESWAP_PREDICTION_VERSION={settings.version}")
    return {"version": version_name, "requests": calls.requests}


# -- command line ------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prediction_routine.deploy", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    targets = parser.add_subparsers(dest="target", required=True)
    vertex = targets.add_parser("vertex", help="deploy the prediction container to a Vertex AI endpoint")
    add_dataclass_arguments(vertex, VertexDeploySettings)
    legacy = targets.add_parser("legacy", help="create a legacy AI Platform custom-prediction-routine version")
    add_dataclass_arguments(legacy, LegacyDeploySettings)
    return parser


def main(argv: list[str] | None = None, http=None) -> int:
    """Command line entry point; ``http`` is for tests. Returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        if args.target == "vertex":
            deploy_vertex(settings_from(VertexDeploySettings, args, env_prefix="FACESWAP_DEPLOY_"), http=http)
        else:
            deploy_legacy(settings_from(LegacyDeploySettings, args, env_prefix="FACESWAP_DEPLOY_"), http=http)
    except FaceswapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
