"""Where the prediction server finds its exported model directory.

Precedence: an explicit path > ``MODEL_DIR`` (local use) > ``AIP_STORAGE_URI`` (set by Vertex AI
to the model's ``artifactUri``) > ``models/default`` next to this package.

``AIP_STORAGE_URI`` may be a local path or a ``gs://bucket/prefix`` folder. A gs:// folder is
copied once, at container start (gunicorn's ``on_starting`` hook in
prediction_routine/gunicorn_config.py, before workers fork), into a local folder with the Cloud
Storage JSON API (google-api-python-client, Application Default Credentials — on Vertex AI the
endpoint's service account). Workers then load the local copy through ``MODEL_DIR``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from faceswap.errors import ModelDirectoryError

logger = logging.getLogger(__name__)

REPO_DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default"
STORAGE_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_only"]


def model_uri_from_environment(environ=None) -> str:
    """The model location named by MODEL_DIR, else AIP_STORAGE_URI, else the bundled default model."""
    environ = os.environ if environ is None else environ
    return environ.get("MODEL_DIR") or environ.get("AIP_STORAGE_URI") or str(REPO_DEFAULT_MODEL)


def split_gcs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix`` -> ("bucket", "some/prefix/") (prefix empty for a whole bucket)."""
    if not uri.startswith("gs://") or len(uri) <= 5:
        raise ModelDirectoryError(f"{uri}: not a gs://bucket/folder URI")
    bucket, _, prefix = uri[5:].partition("/")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


def download_gcs_folder(uri: str, destination: str | Path, http=None) -> Path:
    """Copy every object under the gs:// folder ``uri`` into ``destination``; return the folder.

    ``http``: an httplib2-like object (tests pass googleapiclient's HttpMockSequence); None uses
    Application Default Credentials. Raises ModelDirectoryError when the folder is empty or
    cannot be read.
    """
    from googleapiclient import discovery
    from googleapiclient.errors import HttpError

    bucket, prefix = split_gcs_uri(uri)
    if http is None:
        import google.auth
        credentials, _ = google.auth.default(scopes=STORAGE_SCOPES)
        service = discovery.build("storage", "v1", credentials=credentials, static_discovery=True,
                                  cache_discovery=False)
    else:
        service = discovery.build("storage", "v1", http=http, static_discovery=True, cache_discovery=False)
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    copied = 0
    try:
        page_token = None
        while True:
            listing = service.objects().list(bucket=bucket, prefix=prefix, pageToken=page_token).execute()
            for item in listing.get("items", []):
                relative = item["name"][len(prefix):]
                if not relative or relative.endswith("/"):
                    continue  # folder placeholder objects
                target = (destination / relative).resolve()
                if destination.resolve() not in target.parents:
                    raise ModelDirectoryError(f"{uri}: object name {item['name']!r} escapes the model folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(service.objects().get_media(bucket=bucket, object=item["name"]).execute())
                copied += 1
                logger.info("copied gs://%s/%s -> %s", bucket, item["name"], target)
            page_token = listing.get("nextPageToken")
            if not page_token:
                break
    except HttpError as error:
        raise ModelDirectoryError(f"{uri}: cannot read the model folder from Cloud Storage "
                                  f"(HTTP {error.resp.status})") from None
    if copied == 0:
        raise ModelDirectoryError(f"{uri}: no files under this Cloud Storage folder")
    return destination


def local_model_dir(uri: str, download_to: str | Path = "/tmp/faceswap-model", http=None) -> Path:
    """A local folder holding the model named by ``uri`` (a path, or gs:// copied to ``download_to``)."""
    if uri.startswith("gs://"):
        return download_gcs_folder(uri, download_to, http=http)
    return Path(uri)
