"""Deploy the whole face-swap service to a Google Cloud project with one command, in the right order.

    .venv/bin/python scripts/deploy_gcp.py --project P [--region us-central1] [--dry-run]

Steps (each one creates only what is missing, so a second run updates the deployment):

 1. enable the APIs (App Engine, Vertex AI, Artifact Registry, Cloud Build, Cloud Storage,
    Secret Manager, IAM);
 2. the App Engine app (``gcloud app create``) and its host name, PROJECT.REGION_ID.r.appspot.com,
    from ``gcloud app describe`` (the page's URL; the relay is relay-dot-<that host>);
 3. the relay's service account with roles/aiplatform.user (+ log and metric writer): the App
    Engine default service account has no Editor role in organisations created since May 2024;
 4. the Artifact Registry Docker repository and ``gcloud auth configure-docker``;
 5. the prediction image, built for linux/amd64 and pushed;
 6. the model bucket in the Vertex AI region and the model, uploaded under its content digest;
 7. Vertex AI through google-api-python-client (prediction_routine/deploy.py): a dedicated
    endpoint, the model uploaded and deployed with CPU autoscaling, replaced models undeployed;
 8. the two secrets in Secret Manager (created once with random values, then read);
 9. the relay bundle (websocket_server/app_engine_bundle.py) and the page bundle
    (scripts/app_engine_page.py) written with those values, static files collected;
10. ``gcloud app deploy`` of ``default`` (the page) first, then ``relay``; the page URL is printed.

``--dry-run`` prints every command and every Vertex AI request (with its JSON body) as a first run
on a fresh project would make them, runs nothing and writes nothing. Commands are printed as
``$ command``; ``$? command`` is a check (describe) whose failure makes the next command run.
Needs ``gcloud`` (logged in with ``gcloud auth login`` and ``gcloud auth application-default
login``) and ``docker``; the deployer's roles are listed in docs/deployment.md.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from faceswap.errors import FaceswapError, exit_status  # noqa: E402
from faceswap.settings import add_dataclass_arguments, setting, settings_from  # noqa: E402
from prediction_routine.deploy import VertexDeploySettings, deploy_vertex  # noqa: E402
from scripts.app_engine_page import COLLECTSTATIC, build_page_bundle, collect_static, upload_files  # noqa: E402
from websocket_server.app_engine_bundle import build_bundle  # noqa: E402

logger = logging.getLogger("deploy_gcp")

APIS = ("appengine.googleapis.com", "aiplatform.googleapis.com", "artifactregistry.googleapis.com",
        "cloudbuild.googleapis.com", "storage.googleapis.com", "secretmanager.googleapis.com", "iam.googleapis.com")
RELAY_ROLES = ("roles/aiplatform.user", "roles/logging.logWriter", "roles/monitoring.metricWriter")
# App Engine location ids differ from region names for two regions (gcloud app regions list).
APP_ENGINE_LOCATIONS = {"us-central1": "us-central", "europe-west1": "europe-west"}


class DeployFailed(FaceswapError):
    """A command of the deployment failed; the message names it and ends with its error output."""


@dataclass
class GcpDeploySettings:
    """The whole deployment (FACESWAP_GCP_* environment variables or command-line options)."""

    project: str = setting("", "Google Cloud project id (required)")
    region: str = setting("us-central1", "region of Vertex AI, the image repository and the model bucket")
    app_engine_location: str = setting("", "App Engine location, fixed once the app exists "
                                           "(default: the region's, e.g. us-central for us-central1)")
    bucket: str = setting("", "model bucket (default: PROJECT-faceswap-models), created in --region")
    repository: str = setting("faceswap", "Artifact Registry Docker repository")
    image_tag: str = setting("", "prediction image tag (default: the git commit, -dirty with local changes)")
    model_dir: Path = setting(REPO_ROOT / "models" / "default", "exported model folder to deploy (manifest.json)")
    service_account: str = setting("faceswap-relay", "name of the relay's service account")
    session_secret_name: str = setting("faceswap-session-secret", "Secret Manager secret that signs session tokens")
    django_secret_name: str = setting("faceswap-django-secret-key", "Secret Manager secret of DJANGO_SECRET_KEY")
    machine_type: str = setting("n1-standard-4", "Vertex AI machine type of each prediction replica")
    min_replicas: int = setting(1, "fewest prediction replicas (each bills while deployed)")
    max_replicas: int = setting(3, "most prediction replicas (docs/deployment.md: ~1.5 live streams each)")
    target_cpu_utilization: int = setting(60, "CPU percent the prediction autoscaler aims for")
    build_dir: Path = setting(REPO_ROOT / "build" / "deploy", "where the page and relay bundles are written")
    dry_run: bool = setting(False, "print every command and request; run nothing, write nothing")

    def __post_init__(self) -> None:
        if not self.project:
            raise DeployFailed("the deployment needs --project")
        self.model_dir = Path(self.model_dir)
        self.build_dir = Path(self.build_dir)
        self.app_engine_location = self.app_engine_location or APP_ENGINE_LOCATIONS.get(self.region, self.region)
        self.bucket = self.bucket or f"{self.project}-faceswap-models"
        if not (self.model_dir / "manifest.json").is_file():
            raise DeployFailed(f"{self.model_dir} holds no exported model (manifest.json): "
                               "run `python -m faceswap export` or use models/default")

    @property
    def service_account_email(self) -> str:
        return f"{self.service_account}@{self.project}.iam.gserviceaccount.com"

    @property
    def image_repository(self) -> str:
        return f"{self.region}-docker.pkg.dev/{self.project}/{self.repository}/prediction"


class Shell:
    """Runs commands (or, in a dry run, only prints them) and records every one of them."""

    def __init__(self, dry_run: bool, out: Callable[[str], None] = print):
        self.dry_run = dry_run
        self.out = out
        self.commands: list[str] = []

    def show(self, command: list[str], cwd: Path | None = None, prefix: str = "$") -> None:
        """Print and record ``command`` without running it (for steps run by Python code)."""
        line = shlex.join(command)
        if cwd is not None:
            line = f"(cd {shlex.quote(str(cwd))} && {line})"
        self.commands.append(f"{prefix} {line}")
        self.out(self.commands[-1])

    def run(self, command: list[str], cwd: Path | None = None, stdin: str | None = None,
            placeholder: str = "") -> str:
        """Run ``command`` (raising DeployFailed when it fails); return its stripped stdout.
        A dry run prints it and returns ``placeholder``. ``stdin`` is never printed."""
        self.show(command, cwd, "$")
        if self.dry_run:
            return placeholder
        result = subprocess.run(command, cwd=cwd or REPO_ROOT, input=stdin, capture_output=True, text=True)
        if result.returncode != 0:
            raise DeployFailed(f"`{shlex.join(command)}` failed (exit {result.returncode}): "
                               f"{result.stderr.strip()[-2000:]}")
        return result.stdout.strip()

    def stream(self, command: list[str]) -> None:
        """Run a long command with its output on the terminal (docker build/push, gcloud app deploy)."""
        self.show(command, None, "$")
        if not self.dry_run:
            if subprocess.run(command, cwd=REPO_ROOT).returncode != 0:
                raise DeployFailed(f"`{shlex.join(command)}` failed")

    def succeeds(self, command: list[str]) -> bool:
        """Whether a check (a describe command) succeeds; a dry run prints it and assumes a fresh project."""
        self.show(command, None, "$?")
        if self.dry_run:
            return False
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True).returncode == 0


def model_digest(model_dir: Path) -> str:
    """12 hex digits of SHA-256 over the model folder's file names and contents (the upload folder name)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def git_image_tag() -> str:
    """The current commit (12 hex digits), with -dirty when the working tree has changes."""
    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        tag = git("rev-parse", "--short=12", "HEAD")
        return tag + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        raise DeployFailed("no git commit to tag the image with: pass --image-tag") from None


def ensure(shell: Shell, check: list[str], create: list[str], **create_options) -> None:
    """Run ``create`` unless ``check`` succeeds."""
    if not shell.succeeds(check):
        shell.run(create, **create_options)


def deploy(settings: GcpDeploySettings, shell: Shell, http=None, out: Callable[[str], None] = print) -> dict:
    """Deploy everything in order; return {"page_url", "relay_url", "vertex": VertexDeployment}.

    ``http`` goes to the Vertex AI client (tests pass googleapiclient's HttpMockSequence).
    Raises DeployFailed / DeployError naming the step that failed.
    """
    project = ["--project", settings.project]
    image = f"{settings.image_repository}:{settings.image_tag or git_image_tag()}"
    artifact_uri = f"gs://{settings.bucket}/models/{model_digest(settings.model_dir)}"

    out("# 1. APIs")
    shell.run(["gcloud", "services", "enable", *APIS, *project])

    out("# 2. App Engine app; its host name is PROJECT.REGION_ID.r.appspot.com")
    describe_host = ["gcloud", "app", "describe", *project, "--format=value(defaultHostname)"]
    ensure(shell, describe_host, ["gcloud", "app", "create", f"--region={settings.app_engine_location}", *project])
    host = shell.run(describe_host, placeholder=f"{settings.project}.REGION_ID.r.appspot.com")

    out("# 3. the relay's service account, allowed to call Vertex AI")
    email = settings.service_account_email
    ensure(shell, ["gcloud", "iam", "service-accounts", "describe", email, *project],
           ["gcloud", "iam", "service-accounts", "create", settings.service_account,
            "--display-name=face-swap relay (calls Vertex AI)", *project])
    for role in RELAY_ROLES:
        shell.run(["gcloud", "projects", "add-iam-policy-binding", settings.project,
                   f"--member=serviceAccount:{email}", f"--role={role}", "--condition=None", "--quiet"])

    out("# 4. Artifact Registry repository and Docker login")
    ensure(shell, ["gcloud", "artifacts", "repositories", "describe", settings.repository,
                   f"--location={settings.region}", *project],
           ["gcloud", "artifacts", "repositories", "create", settings.repository, "--repository-format=docker",
            f"--location={settings.region}", *project])
    shell.run(["gcloud", "auth", "configure-docker", f"{settings.region}-docker.pkg.dev", "--quiet"])

    out("# 5. the prediction image, for linux/amd64 (Vertex AI machines)")
    shell.stream(["docker", "build", "--platform=linux/amd64", "-f", "prediction_routine/Dockerfile", "-t", image, "."])
    shell.stream(["docker", "push", image])

    out("# 6. the model, in a bucket of the Vertex AI region")
    ensure(shell, ["gcloud", "storage", "buckets", "describe", f"gs://{settings.bucket}", *project],
           ["gcloud", "storage", "buckets", "create", f"gs://{settings.bucket}", f"--location={settings.region}",
            "--uniform-bucket-level-access", *project])
    shell.run(["gcloud", "storage", "rsync", str(settings.model_dir), artifact_uri, "--recursive", *project])

    out("# 7. Vertex AI: dedicated endpoint, model, deployment with autoscaling (requests as JSON)")
    vertex = deploy_vertex(VertexDeploySettings(
        project=settings.project, location=settings.region, image_uri=image, artifact_uri=artifact_uri,
        machine_type=settings.machine_type, min_replicas=settings.min_replicas, max_replicas=settings.max_replicas,
        target_cpu_utilization=settings.target_cpu_utilization, dry_run=settings.dry_run, poll_interval_s=15.0),
        http=http, out=out)

    out("# 8. secrets (Secret Manager; created once with random values)")
    values = {}
    for variable, name in (("FACESWAP_SESSION_SECRET", settings.session_secret_name),
                           ("DJANGO_SECRET_KEY", settings.django_secret_name)):
        ensure(shell, ["gcloud", "secrets", "describe", name, *project],
               ["gcloud", "secrets", "create", name, "--replication-policy=automatic", "--data-file=-", *project],
               stdin=secrets.token_urlsafe(48))
        values[variable] = shell.run(["gcloud", "secrets", "versions", "access", "latest", f"--secret={name}",
                                      *project], placeholder=f"<{name}>")

    out("# 9. the relay and page bundles, configured with the values above")
    page_url = f"https://{host}"
    relay_host = f"relay-dot-{host}"
    relay_environment = {**vertex.relay_environment(),
                         "RELAY_ALLOWED_ORIGINS": page_url,
                         "FACESWAP_SESSION_SECRET": values["FACESWAP_SESSION_SECRET"]}
    page_environment = {"FACESWAP_WEBSOCKET_URL": f"wss://{relay_host}/stream", "DJANGO_ALLOWED_HOSTS": host}
    relay_dir, page_dir = settings.build_dir / "relay", settings.build_dir / "page"
    for name, folder, environment in (("relay", relay_dir, relay_environment), ("page", page_dir, page_environment)):
        shown = {key: ("<secret>" if "SECRET" in key else value) for key, value in environment.items()}
        out(f"write {folder}/app.yaml env_variables: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if not settings.dry_run:
        build_bundle(relay_dir, relay_environment, email)
        build_page_bundle(page_dir, page_environment, {"DJANGO_SECRET_KEY": values["DJANGO_SECRET_KEY"],
                                                       "FACESWAP_SESSION_SECRET": values["FACESWAP_SESSION_SECRET"]})
    shell.show([sys.executable, *COLLECTSTATIC], page_dir, "$")
    if not settings.dry_run:
        collect_static(page_dir)
        out(f"the page uploads {len(upload_files(page_dir))} files (.gcloudignore applied)")

    out("# 10. App Engine: default (the page) first, then the relay")
    shell.stream(["gcloud", "app", "deploy", str(page_dir / "app.yaml"), *project, "--quiet"])
    shell.stream(["gcloud", "app", "deploy", str(relay_dir / "app.yaml"), *project, "--quiet"])

    out(f"page: {page_url}\nrelay: wss://{relay_host}/stream\nprediction endpoint: {vertex.endpoint}")
    return {"page_url": page_url, "relay_url": f"wss://{relay_host}/stream", "vertex": vertex}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/deploy_gcp.py", description=__doc__.split("\n\n")[0],
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, GcpDeploySettings)
    return parser


def main(argv: list[str] | None = None, http=None) -> int:
    """Command line entry point (``http``: for tests). Returns the exit code: 0, or 2 with one error line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    def run() -> None:
        settings = settings_from(GcpDeploySettings, args, env_prefix="FACESWAP_GCP_")
        deploy(settings, Shell(settings.dry_run), http=http)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
