"""Deploy the prediction routine to a dedicated Vertex AI endpoint with google-api-python-client.

The routine's interface is ``prediction_routine.predictor.ModelPrediction`` (from_path/predict);
on Vertex AI it runs inside the custom container of prediction_routine/Dockerfile
(prediction_routine/server.py). (Historical: the legacy AI Platform custom-prediction-routine
service that first hosted ModelPrediction was shut down on 2025-01-31; nothing here targets it.)

Requests, through the static discovery document bundled with the library, against
``https://{location}-aiplatform.googleapis.com/v1/``:

1. ``GET  projects/{p}/locations/{l}/endpoints?filter=display_name="faceswap"`` — find the
   endpoint of an earlier run (or ``GET .../endpoints/{id}`` with --endpoint-id);
2. ``POST .../models:upload`` — a Model: containerSpec (image, predict/health routes, port, the
   backend and ``WEB_CONCURRENCY`` workers) and the **required** ``artifactUri`` (the exported model
   folder on Cloud Storage; the image holds no model, the container copies it from AIP_STORAGE_URI);
3. ``POST .../endpoints`` with ``dedicatedEndpointEnabled: true`` — only when step 1 found none.
   A dedicated public endpoint has no 30,000-predictions-per-minute regional quota (the shared
   public endpoint has; at 30 fps that is ~16 live streams whatever the replica count);
4. ``POST {endpoint}:deployModel`` — dedicatedResources (machine type, min/max replicas, CPU
   autoscaling target), ``trafficSplit {"0": 100}``: all traffic to the new model;
5. ``GET {endpoint}`` — its ``dedicatedEndpointDns`` (the relay must send predictions there: a
   dedicated endpoint refuses the shared ``{l}-aiplatform.googleapis.com`` host) and the models
   deployed on it;
6. ``POST {endpoint}:undeployModel`` for every other deployed model (an earlier run's): it has no
   traffic any more and would keep its replicas billing.

Each long-running operation is polled with ``operations.get`` until done. ``--dry-run`` prints
every request (method, URL, JSON body) and sends nothing (no credentials needed); it shows the
requests of a first run (no endpoint yet). Real runs use Application Default Credentials
(``gcloud auth application-default login`` or the attached service account), never a key file.

    python -m prediction_routine.deploy --project P --image-uri IMAGE --artifact-uri gs://B/model [--dry-run]

scripts/deploy_gcp.py runs this as one step of the whole deployment.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from faceswap.errors import FaceswapError, exit_status
from faceswap.settings import add_dataclass_arguments, setting, settings_from

logger = logging.getLogger(__name__)

PREDICTION_CLASS = "prediction_routine.predictor.ModelPrediction"
CPU_UTILIZATION_METRIC = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
CLOUD_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
# The prediction server scales by worker processes, one per core, each running its native
# libraries on one thread (prediction_routine/native_threads.py, docs/performance.md). Vertex
# averages CPU use over all vCPUs of a replica: one process on an n1-standard-4 cannot pass ~25-45 %,
# so a 60 % autoscaling target would never fire.
VCPUS_PER_WORKER = 1


class DeployError(FaceswapError):
    """A deployment step failed (bad settings, a refused request or a failed operation)."""


def machine_vcpus(machine_type: str) -> int | None:
    """vCPUs of a predefined Compute Engine machine type (``n1-standard-4`` -> 4), None if unknown."""
    match = re.fullmatch(r"[a-z0-9]+-(?:standard|highcpu|highmem)-(\d+)", machine_type)
    return int(match.group(1)) if match else None


@dataclass
class VertexDeploySettings:
    """Vertex AI deployment: model upload, dedicated endpoint, deployment with autoscaling."""

    project: str = setting("", "Google Cloud project id (required)")
    location: str = setting("us-central1", "Vertex AI region (the bucket and the image should be there too)")
    display_name: str = setting("faceswap", "display name of the model, endpoint and deployed model; "
                                            "a later run finds its endpoint by this name")
    image_uri: str = setting("", "prediction server image in Artifact Registry (required), "
                                 "built for linux/amd64 from prediction_routine/Dockerfile")
    artifact_uri: str = setting("", "gs:// folder of the exported model (required: the image holds no model; "
                                    "the container copies it from AIP_STORAGE_URI at start)")
    predict_route: str = setting("/predict", "route the container serves predictions on (AIP_PREDICT_ROUTE)")
    health_route: str = setting("/health", "route the container answers health checks on (AIP_HEALTH_ROUTE)")
    port: int = setting(8080, "port the container listens on (AIP_HTTP_PORT)")
    backend: str = setting("tflite", "model runtime inside the container", choices=("tflite", "savedmodel"))
    machine_type: str = setting("n1-standard-4", "machine type of each replica")
    workers: int = setting(0, "server processes per replica (WEB_CONCURRENCY); 0: one per vCPU, so that a "
                              "busy replica passes the CPU target and autoscaling can fire")
    min_replicas: int = setting(1, "fewest replicas (autoscaling floor; >= 1, a replica bills while deployed)")
    max_replicas: int = setting(3, "most replicas (autoscaling ceiling)")
    target_cpu_utilization: int = setting(60, "CPU utilisation percent (averaged over all vCPUs) autoscaling aims for")
    endpoint_id: str | None = setting(None, "deploy into this existing endpoint instead of finding one by name")
    poll_interval_s: float = setting(10.0, "seconds between long-running-operation polls")
    timeout_s: float = setting(3600.0, "give up waiting for one operation after this many seconds")
    dry_run: bool = setting(False, "print every request body and send nothing (no credentials needed)")

    def check(self) -> None:
        missing = [name for name in ("project", "image_uri", "artifact_uri") if not getattr(self, name)]
        if missing:
            raise DeployError("vertex deployment needs " + " and ".join("--" + m.replace("_", "-") for m in missing))
        if not self.artifact_uri.startswith("gs://"):
            raise DeployError(f"--artifact-uri must be a gs:// folder holding the exported model "
                              f"(manifest.json), got {self.artifact_uri!r}")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise DeployError(f"replica counts must satisfy 1 <= min ({self.min_replicas}) <= max ({self.max_replicas})")
        if not 1 <= self.target_cpu_utilization <= 100:
            raise DeployError(f"--target-cpu-utilization must be 1-100, got {self.target_cpu_utilization}")
        if self.workers < 0 or (self.workers == 0 and machine_vcpus(self.machine_type) is None):
            raise DeployError(f"set --workers for machine type {self.machine_type!r} (vCPU count unknown)")

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, (machine_vcpus(self.machine_type) or 1) // VCPUS_PER_WORKER)


@dataclass
class VertexDeployment:
    """What a deployment produced: the names to give the relay, and every request made."""

    project: str
    location: str
    endpoint: str
    model: str
    deployed_model_id: str
    dedicated_endpoint_dns: str
    undeployed: list[str] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def relay_environment(self) -> dict[str, str]:
        """The FACESWAP_PREDICTION_* variables of the relay (websocket_server/prediction_client.py)."""
        return {"FACESWAP_PREDICTION_TARGET": "vertex",
                "FACESWAP_PREDICTION_PROJECT": self.project,
                "FACESWAP_PREDICTION_LOCATION": self.location,
                "FACESWAP_PREDICTION_ENDPOINT_ID": self.endpoint.rsplit("/", 1)[-1],
                "FACESWAP_PREDICTION_API_ENDPOINT": "https://" + self.dedicated_endpoint_dns}


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


def _build(api_endpoint: str, http, dry_run: bool):
    """The aiplatform v1 client from the bundled static document: ``http`` (tests), anonymous (dry run) or ADC."""
    from google.api_core.client_options import ClientOptions
    from googleapiclient import discovery

    options = ClientOptions(api_endpoint=api_endpoint)
    if http is not None:
        return discovery.build("aiplatform", "v1", http=http, static_discovery=True, cache_discovery=False,
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
    return discovery.build("aiplatform", "v1", credentials=credentials, static_discovery=True,
                           cache_discovery=False, client_options=options)


def vertex_model_body(settings: VertexDeploySettings) -> dict:
    """The Model resource uploaded to Vertex AI (custom prediction container + the model folder)."""
    container = {
        "imageUri": settings.image_uri,
        "predictRoute": settings.predict_route,
        "healthRoute": settings.health_route,
        "ports": [{"containerPort": settings.port}],
        "env": [{"name": "FACESWAP_ROUTINE_BACKEND", "value": settings.backend},
                {"name": "WEB_CONCURRENCY", "value": str(settings.worker_count)}],
    }
    return {"displayName": settings.display_name,
            "description": "face-swap prediction routine (prediction_routine/server.py)",
            "containerSpec": container,
            "artifactUri": settings.artifact_uri}


def vertex_endpoint_body(settings: VertexDeploySettings) -> dict:
    """A dedicated public endpoint (no shared-endpoint QPM quota, its own DNS name)."""
    return {"displayName": settings.display_name, "dedicatedEndpointEnabled": True}


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


def _existing_endpoint(settings: VertexDeploySettings, calls: _Calls, endpoints, parent: str) -> dict | None:
    """The endpoint of an earlier run (by --endpoint-id or display name), None when there is none."""
    if settings.endpoint_id:
        return calls.send(endpoints.get(name=f"{parent}/endpoints/{settings.endpoint_id}"), "find endpoint") \
            or ({} if calls.dry_run else None)
    listed = calls.send(endpoints.list(parent=parent, filter=f'display_name="{settings.display_name}"'),
                        "find endpoint")
    found = (listed or {}).get("endpoints", [])
    if len(found) > 1:
        names = ", ".join(endpoint["name"] for endpoint in found)
        raise DeployError(f"several endpoints are named {settings.display_name!r} ({names}): pass --endpoint-id")
    return found[0] if found else None


def deploy_vertex(settings: VertexDeploySettings, http=None, out: Callable[[str], None] = print) -> VertexDeployment:
    """Find or create the dedicated endpoint, upload the model, deploy it, undeploy the models it replaced.

    ``http``: an httplib2-like object for every call (tests pass googleapiclient's HttpMockSequence).
    Raises DeployError (bad settings, a refused request, a failed operation, a shared endpoint).
    """
    settings.check()
    service = _build(f"https://{settings.location}-aiplatform.googleapis.com", http, settings.dry_run)
    calls = _Calls(settings.dry_run, settings.poll_interval_s, settings.timeout_s,
                   _vertex_operation_getter(service), out)
    locations = service.projects().locations()
    endpoints = locations.endpoints()
    parent = f"projects/{settings.project}/locations/{settings.location}"

    existing = _existing_endpoint(settings, calls, endpoints, parent)
    if existing and not existing.get("dedicatedEndpointEnabled"):
        raise DeployError(f"endpoint {existing['name']} is a shared public endpoint (30,000 predictions per minute "
                          "per region for all of them together): undeploy and delete it, or choose another "
                          "--display-name, so that a dedicated endpoint is created")

    uploaded = calls.wait(calls.send(locations.models().upload(parent=parent,
                                                                body={"model": vertex_model_body(settings)}),
                                     "upload model"), "upload model")
    model_name = uploaded["model"] if uploaded else f"{parent}/models/MODEL_ID_FROM_UPLOAD"

    if existing and existing.get("name"):
        endpoint_name = existing["name"]
    elif settings.dry_run and settings.endpoint_id:
        endpoint_name = f"{parent}/endpoints/{settings.endpoint_id}"
    else:
        created = calls.wait(calls.send(endpoints.create(parent=parent, body=vertex_endpoint_body(settings)),
                                        "create dedicated endpoint"), "create dedicated endpoint")
        endpoint_name = created["name"] if created else f"{parent}/endpoints/ENDPOINT_ID_FROM_CREATE"

    deployed = calls.wait(calls.send(endpoints.deployModel(endpoint=endpoint_name,
                                                           body=vertex_deploy_body(settings, model_name)),
                                     "deploy model"), "deploy model")
    deployed_id = (deployed or {}).get("deployedModel", {}).get("id", "DEPLOYED_MODEL_ID")

    endpoint = calls.send(endpoints.get(name=endpoint_name), "read endpoint") or {}
    dns = endpoint.get("dedicatedEndpointDns") or \
        f"{endpoint_name.rsplit('/', 1)[-1]}.{settings.location}-PROJECT_NUMBER.prediction.vertexai.goog"
    dns = re.sub(r"^https?://", "", dns).rstrip("/")

    replaced = [model["id"] for model in endpoint.get("deployedModels", []) if model.get("id") != deployed_id]
    for model_id in replaced:
        calls.wait(calls.send(endpoints.undeployModel(endpoint=endpoint_name, body={"deployedModelId": model_id}),
                              f"undeploy replaced model {model_id}"), f"undeploy replaced model {model_id}")

    result = VertexDeployment(project=settings.project, location=settings.location, endpoint=endpoint_name, model=model_name, deployed_model_id=deployed_id,
                              dedicated_endpoint_dns=dns, undeployed=replaced, requests=calls.requests)
    out(f"endpoint: {endpoint_name} (https://{dns})")
    if replaced:
        out("undeployed the replaced model(s): " + ", ".join(replaced))
    out("relay settings:\n" + "\n".join(f"  {key}={value}"
                                         for key, value in result.relay_environment().items()))
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prediction_routine.deploy", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, VertexDeploySettings)
    return parser


def main(argv: list[str] | None = None, http=None) -> int:
    """Command line entry point; ``http`` is for tests. Returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return exit_status(lambda: deploy_vertex(settings_from(VertexDeploySettings, args,
                                                            env_prefix="FACESWAP_DEPLOY_"), http=http))


if __name__ == "__main__":
    sys.exit(main())
