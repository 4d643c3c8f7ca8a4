#!/usr/bin/env python3
"""Submit the GPU training (train_gpu.py) as a Vertex AI custom job, through google-api-python-client.

One request, against ``https://{location}-aiplatform.googleapis.com/v1/`` with the discovery
document bundled with the library (as prediction_routine/deploy.py talks to Vertex):

    POST projects/{p}/locations/{l}/customJobs   (aiplatform v1 projects.locations.customJobs.create)

The CustomJob has one worker pool of one replica: the machine type and its GPU(s), and a
container (``--image-uri``, built from scripts/gpu_training/Dockerfile) that runs
``scripts/gpu_training/train_gpu.py`` with the bundle and the output in Cloud Storage. Vertex
mounts every bucket the job's service account can read under ``/gcs/`` (Cloud Storage FUSE), so
``gs://B/path`` is passed to the script as ``/gcs/B/path``; the job's ``baseOutputDirectory`` is
``--output-uri``. The job's timeout is the training budget plus ``--startup-minutes``.

``--wait`` then polls ``customJobs.get`` every ``--poll-interval-s`` until the job ends and
fails unless it succeeded. ``--dry-run`` prints the request (method, URL, JSON body) and sends
nothing (no credentials needed). Real runs use Application Default Credentials.

    .venv/bin/python scripts/gpu_training/submit_vertex.py --project P --image-uri IMAGE \\
        --bundle-uri gs://B/faceswap/bundle --output-uri gs://B/faceswap/runs/1 --minutes 60 [--dry-run]
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from faceswap.errors import exit_status  # noqa: E402
from faceswap.settings import add_dataclass_arguments, setting, settings_from  # noqa: E402
from prediction_routine.deploy import DeployError, _build, _Calls  # noqa: E402

TERMINAL_STATES = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
                   "JOB_STATE_PARTIALLY_SUCCEEDED")
TRAIN_SCRIPT = "scripts/gpu_training/train_gpu.py"


@dataclass
class VertexTrainingSettings:
    """A Vertex AI custom job that runs train_gpu.py on one GPU machine."""

    project: str = setting("", "Google Cloud project id (required)")
    location: str = setting("us-central1", "Vertex AI region (the bucket and the image should be there too)")
    display_name: str = setting("faceswap-train", "display name of the custom job")
    image_uri: str = setting("", "training image in Artifact Registry (required), built from "
                                 "scripts/gpu_training/Dockerfile for linux/amd64")
    bundle_uri: str = setting("", "gs:// folder holding the bundle of prepare_bundle.py (faces_a.npz, faces_b.npz, "
                                  "bundle.json, optionally checkpoint*.npz to resume) (required)")
    output_uri: str = setting("", "gs:// folder for model/ and summary.json (required; the job's base output directory)")
    machine_type: str = setting("g2-standard-16", "machine type of the worker (16 vCPUs feed the augmentation)")
    accelerator_type: str = setting("NVIDIA_L4", "GPU type (Vertex AI AcceleratorType, e.g. NVIDIA_L4, "
                                                 "NVIDIA_TESLA_A100, NVIDIA_H100_80GB)")
    accelerator_count: int = setting(1, "GPUs on the worker (train_gpu.py uses one)")
    backend: str = setting("jax", "Keras backend in the container", choices=("jax", "torch"))
    minutes: float = setting(60.0, "training budget in minutes (train_gpu.py --minutes)")
    startup_minutes: float = setting(20.0, "minutes the job may take beyond the budget (image pull, data, save) "
                                           "before Vertex stops it")
    train_args: str = setting("", "more train_gpu.py options, e.g. '--batch-size 64 --iterations 200000'")
    boot_disk_gb: int = setting(100, "boot disk size (GB, pd-ssd)")
    service_account: str = setting("", "service account the job runs as (default: the Vertex AI service agent); "
                                       "it needs read access to the bundle and write access to the output")
    wait: bool = setting(False, "wait until the job ends; fail unless it succeeded")
    poll_interval_s: float = setting(60.0, "seconds between job polls with --wait")
    dry_run: bool = setting(False, "print the request and send nothing (no credentials needed)")

    def check(self) -> None:
        missing = [name for name in ("project", "image_uri", "bundle_uri", "output_uri") if not getattr(self, name)]
        if missing:
            raise DeployError("the training job needs " + " and ".join("--" + m.replace("_", "-") for m in missing))
        for name in ("bundle_uri", "output_uri"):
            value = getattr(self, name)
            if not value.startswith("gs://") or len(value.rstrip("/")) <= len("gs://"):
                raise DeployError(f"--{name.replace('_', '-')} must be a gs:// folder, got {value!r}")
        if self.minutes <= 0 or self.startup_minutes < 0:
            raise DeployError("--minutes must be positive and --startup-minutes not negative")
        if self.accelerator_count < 1:
            raise DeployError(f"--accelerator-count must be at least 1, got {self.accelerator_count}")


def fuse_path(uri: str) -> str:
    """``gs://bucket/path/`` -> ``/gcs/bucket/path``: where Vertex's Cloud Storage FUSE mounts it."""
    return "/gcs/" + uri[len("gs://"):].rstrip("/")


def custom_job_body(settings: VertexTrainingSettings) -> dict:
    """The CustomJob resource (aiplatform v1) that runs train_gpu.py once on one GPU machine."""
    args = ["--bundle", fuse_path(settings.bundle_uri), "--output", fuse_path(settings.output_uri),
            "--backend", settings.backend, "--minutes", f"{settings.minutes:g}", *shlex.split(settings.train_args)]
    timeout_s = int(round((settings.minutes + settings.startup_minutes) * 60))
    spec: dict = {
        "workerPoolSpecs": [{
            "machineSpec": {"machineType": settings.machine_type, "acceleratorType": settings.accelerator_type,
                            "acceleratorCount": settings.accelerator_count},
            "replicaCount": "1",
            "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": settings.boot_disk_gb},
            "containerSpec": {"imageUri": settings.image_uri, "command": ["python3", TRAIN_SCRIPT], "args": args,
                              "env": [{"name": "KERAS_BACKEND", "value": settings.backend}]},
        }],
        "baseOutputDirectory": {"outputUriPrefix": settings.output_uri},
        "scheduling": {"timeout": f"{timeout_s}s"},
    }
    if settings.service_account:
        spec["serviceAccount"] = settings.service_account
    return {"displayName": settings.display_name, "jobSpec": spec, "labels": {"app": "faceswap", "stage": "train"}}


def submit_training_job(settings: VertexTrainingSettings, http=None, out: Callable[[str], None] = print,
                        sleep: Callable[[float], None] = time.sleep) -> dict:
    """Create the custom job (and with ``wait`` poll it to its end); returns the last CustomJob seen
    ({} in a dry run). ``http``: an httplib2-like object (tests pass HttpMockSequence). Raises
    DeployError for bad settings, a refused request, or (with ``wait``) a job that did not succeed."""
    settings.check()
    service = _build(f"https://{settings.location}-aiplatform.googleapis.com", http, settings.dry_run)
    calls = _Calls(settings.dry_run, settings.poll_interval_s, 0.0, lambda name: None, out)
    jobs = service.projects().locations().customJobs()
    parent = f"projects/{settings.project}/locations/{settings.location}"
    job = calls.send(jobs.create(parent=parent, body=custom_job_body(settings)), "create custom job")
    if job is None:
        return {}
    out(f"custom job: {job['name']} ({job.get('state', 'JOB_STATE_QUEUED')}); output in {settings.output_uri}")
    while settings.wait and job.get("state") not in TERMINAL_STATES:
        sleep(settings.poll_interval_s)
        job = calls.send(jobs.get(name=job["name"]), "read custom job") or {}
        out(f"custom job: {job.get('state')}")
    if settings.wait and job.get("state") != "JOB_STATE_SUCCEEDED":
        message = job.get("error", {}).get("message", "")
        raise DeployError(f"custom job {job.get('name')} ended {job.get('state')}" + (f": {message}" if message else ""))
    return job


def main(argv: list[str] | None = None, http=None) -> int:
    """Command line entry point; ``http`` is for tests. Returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_dataclass_arguments(parser, VertexTrainingSettings)
    args = parser.parse_args(argv)
    return exit_status(lambda: submit_training_job(
        settings_from(VertexTrainingSettings, args, env_prefix="FACESWAP_VERTEX_TRAIN_"), http=http))


if __name__ == "__main__":
    sys.exit(main())
