"""Client for the prediction routine: one class for the local prediction server, a Vertex AI
endpoint and a legacy AI Platform model version.

The relay (websocket_server/main.py) imports this module and is deployed without the model
stack, so it imports no TensorFlow, MediaPipe, OpenCV or NumPy — only google-api-python-client,
google-auth, httplib2 and the pure-Python helpers faceswap.settings / faceswap.errors.

Requests go through google-api-python-client with the static discovery documents bundled in the
library (``discovery.build('aiplatform', 'v1')`` or ``build('ml', 'v1')``, no network fetch):

- ``target='local'``: the Vertex URL shape against ``api_endpoint`` (default
  http://127.0.0.1:8002, see prediction_routine/server.py) with anonymous credentials;
- ``target='vertex'``: ``POST https://{location}-aiplatform.googleapis.com/v1/projects/{p}/
  locations/{l}/endpoints/{e}:predict`` with Application Default Credentials;
- ``target='legacy'``: ``POST https://ml.googleapis.com/v1/projects/{p}/models/{m}[/versions/{v}]
  :predict`` with Application Default Credentials.

Instances and predictions are the JSON objects of docs/protocols.md; ``make_instance`` and
``prediction_image`` convert JPEG/PNG bytes to and from them (base64 inside the JSON).

Concurrency: the relay runs under gevent (monkey-patched). An ``httplib2.Http`` must not be used
by two greenlets at once, so every call borrows one from a small pool (creating a new one when
all are busy) and returns it afterwards; a connection that failed is dropped, never reused.

Keep-alive: servers close idle connections (gunicorn after 2 s), and a request written into a
connection the server has just closed fails with a reset. So a pooled connection idle for more
than ``pool_max_idle_s`` is closed instead of reused, and a connection failure on a reused
connection is retried at once on a fresh one without counting as one of the ``retries``: a
healthy server is never reported unavailable because of a stale connection.
"""

from __future__ import annotations

import base64
import binascii
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

import httplib2

from faceswap.errors import FaceswapError
from faceswap.json_limits import ONLINE_PREDICTION_LIMIT_BYTES
from faceswap.settings import setting, settings_from

logger = logging.getLogger(__name__)

ENV_PREFIX = "FACESWAP_PREDICTION_"
TARGETS = ("local", "vertex", "legacy")
DIRECTIONS = ("a2b", "b2a")
RETRYABLE_STATUSES = (429, 502, 503, 504)
CLOUD_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class PredictionUnavailable(FaceswapError):
    """The prediction routine could not answer (unreachable, timed out, overloaded or failed).

    ``status_code`` is the HTTP status of the last answer, or None when no answer came back.
    The relay catches this and degrades (sends the frame back unchanged).
    """

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class PredictionRejected(PredictionUnavailable):
    """The routine refused the whole request (HTTP 4xx other than 429: bad body, too large,
    unknown model); retrying the same request cannot help."""


@dataclass
class PredictionClientSettings:
    """Where the prediction routine lives and how patiently to call it.

    Every field can be set from the environment as ``FACESWAP_PREDICTION_<FIELD>``
    (e.g. FACESWAP_PREDICTION_TARGET=vertex, FACESWAP_PREDICTION_ENDPOINT_ID=1234).
    """

    target: str = setting("local", "local (prediction_routine/server.py, anonymous), vertex or legacy",
                          choices=TARGETS)
    project: str = setting("local", "Google Cloud project id (any word for the local server)")
    location: str = setting("us-central1", "Vertex AI region")
    endpoint_id: str = setting("faceswap", "Vertex AI endpoint id (local: any word)")
    model: str = setting("faceswap", "legacy AI Platform model name")
    version: str | None = setting(None, "legacy AI Platform version name (None: the default version)")
    api_endpoint: str | None = setting(
        None, "base URL of the service (None: http://127.0.0.1:8002 for local, "
              "https://{location}-aiplatform.googleapis.com for vertex, https://ml.googleapis.com for legacy)")
    anonymous: bool | None = setting(None, "send no credentials (None: yes for local, Application Default "
                                           "Credentials for vertex/legacy)")
    timeout_s: float = setting(10.0, "socket timeout of one predict call, seconds")
    retries: int = setting(2, "extra attempts after a 429/502/503/504 answer or a connection failure")
    backoff_s: float = setting(0.1, "first retry delay, seconds (doubles each retry, with jitter)")
    max_backoff_s: float = setting(2.0, "longest retry delay, seconds")
    pool_size: int = setting(8, "idle HTTP connections kept for reuse")
    pool_max_idle_s: float = setting(1.5, "a pooled connection idle longer than this is closed, not reused "
                                          "(below the server's keep-alive timeout; gunicorn's is 2 s)")
    max_request_bytes: int = setting(ONLINE_PREDICTION_LIMIT_BYTES, "largest request body sent: a bigger one is refused here as HTTP "
                                                "413 without being sent (1.5 MB: Vertex AI's online-prediction "
                                                "limit, and the local prediction server's)")

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise FaceswapError(f"prediction target {self.target!r} is not one of {', '.join(TARGETS)}")
        if self.timeout_s <= 0:
            raise FaceswapError(f"prediction timeout must be positive, got {self.timeout_s}")
        if self.retries < 0:
            raise FaceswapError(f"prediction retries must be 0 or more, got {self.retries}")
        if self.max_request_bytes < 1024:
            raise FaceswapError(f"the largest prediction request must be at least 1024 bytes, got {self.max_request_bytes}")

    @property
    def uses_vertex_api(self) -> bool:
        return self.target in ("local", "vertex")

    @property
    def is_anonymous(self) -> bool:
        return self.target == "local" if self.anonymous is None else self.anonymous

    @property
    def base_url(self) -> str:
        if self.api_endpoint:
            return self.api_endpoint.rstrip("/") + "/"
        if self.target == "local":
            return "http://127.0.0.1:8002/"
        if self.target == "vertex":
            return f"https://{self.location}-aiplatform.googleapis.com/"
        return "https://ml.googleapis.com/"

    @property
    def resource_name(self) -> str:
        """``projects/p/locations/l/endpoints/e`` (Vertex/local) or ``projects/p/models/m[/versions/v]``."""
        if self.uses_vertex_api:
            return f"projects/{self.project}/locations/{self.location}/endpoints/{self.endpoint_id}"
        name = f"projects/{self.project}/models/{self.model}"
        return f"{name}/versions/{self.version}" if self.version else name


def client_settings(environ=None, **overrides: Any) -> PredictionClientSettings:
    """PredictionClientSettings from defaults <- FACESWAP_PREDICTION_* environment <- ``overrides``."""
    return settings_from(PredictionClientSettings, None, env_prefix=ENV_PREFIX, environ=environ, **overrides)


def make_instance(image_bytes: bytes, direction: str, stream_id: str | None = None,
                  options: dict | None = None, frame_time_ms: float | None = None) -> dict:
    """One predict instance (docs/protocols.md) from JPEG/PNG bytes; the image travels as base64.
    ``frame_time_ms``: when the frame was taken, ms on the sender's clock (the browser's ``sent_at``),
    so the routine times a stream's frames as they were taken, not as they arrive."""
    instance: dict[str, Any] = {"image": {"b64": base64.b64encode(bytes(image_bytes)).decode("ascii")},
                                "direction": direction}
    if stream_id is not None:
        instance["stream_id"] = str(stream_id)
    if frame_time_ms is not None:
        instance["frame_time_ms"] = float(frame_time_ms)
    if options:
        instance["options"] = dict(options)
    return instance


def prediction_image(prediction: dict) -> bytes | None:
    """The JPEG bytes of one prediction's merged frame, or None when the prediction has no image."""
    image = prediction.get("image") if isinstance(prediction, dict) else None
    if not isinstance(image, dict) or not isinstance(image.get("b64"), str):
        return None
    try:
        return base64.b64decode(image["b64"], validate=True)
    except (binascii.Error, ValueError):
        return None


class PredictionClient:
    """Calls ``:predict`` on the configured target; safe to share between threads and greenlets."""

    def __init__(self, settings: PredictionClientSettings | None = None):
        from google.api_core.client_options import ClientOptions
        from googleapiclient import discovery

        self.settings = settings or client_settings()
        self._credentials = self._make_credentials()
        service_name = "aiplatform" if self.settings.uses_vertex_api else "ml"
        self._service = discovery.build(
            service_name, "v1", credentials=self._credentials, static_discovery=True, cache_discovery=False,
            client_options=ClientOptions(api_endpoint=self.settings.base_url))
        # Resource objects are built once: googleapiclient creates every method of a resource
        # on each ``.projects().locations().endpoints()`` walk (tens of ms for aiplatform).
        if self.settings.uses_vertex_api:
            self._predict_method = self._service.projects().locations().endpoints().predict
        else:
            self._predict_method = self._service.projects().predict
        self._pool: list[Any] = []
        self._pool_lock = threading.Lock()
        logger.info("prediction client: %s %s%s", self.settings.target, self.settings.base_url,
                    self.settings.resource_name)

    def _make_credentials(self):
        if self.settings.is_anonymous:
            from google.auth.credentials import AnonymousCredentials
            return AnonymousCredentials()
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        try:
            credentials, _ = google.auth.default(scopes=list(CLOUD_SCOPES))
        except DefaultCredentialsError as error:
            raise PredictionUnavailable(
                f"no Google Application Default Credentials for the {self.settings.target} target "
                f"(run `gcloud auth application-default login` or attach a service account): {error}") from None
        return credentials

    # -- connection pool: one httplib2.Http per concurrent caller ---------------------------------

    def _borrow_http(self, fresh: bool = False) -> tuple[Any, bool]:
        """(an AuthorizedHttp, whether it was reused from the pool); connections idle for longer than
        ``pool_max_idle_s`` are closed on the way."""
        stale = []
        reused = None
        if not fresh:
            now = time.monotonic()
            with self._pool_lock:
                while self._pool:
                    http, returned_at = self._pool.pop()
                    if now - returned_at <= self.settings.pool_max_idle_s:
                        reused = http
                        break
                    stale.append(http)
        for http in stale:
            _close_http(http)
        if reused is not None:
            return reused, True
        import google_auth_httplib2
        return google_auth_httplib2.AuthorizedHttp(self._credentials,
                                                   http=httplib2.Http(timeout=self.settings.timeout_s)), False

    def _return_http(self, http) -> None:
        with self._pool_lock:
            if len(self._pool) < self.settings.pool_size:
                self._pool.append((http, time.monotonic()))
                return
        _close_http(http)

    def close(self) -> None:
        """Close the idle pooled connections (the client stays usable)."""
        with self._pool_lock:
            pool, self._pool = self._pool, []
        for http, _ in pool:
            _close_http(http)

    # -- predict ---------------------------------------------------------------------------------

    def _request(self, instances: list[dict]):
        body = {"instances": instances}
        if self.settings.uses_vertex_api:
            return self._predict_method(endpoint=self.settings.resource_name, body=body)
        return self._predict_method(name=self.settings.resource_name, body=body)

    def predict(self, instances: list[dict]) -> list[dict]:
        """Send ``instances`` and return one prediction dict per instance, in order.

        Retries 429/502/503/504 answers and connection failures with exponential backoff;
        raises PredictionRejected for other 4xx answers and PredictionUnavailable for everything
        else that yields no usable answer (never an httplib2 or googleapiclient exception). A body
        over ``max_request_bytes`` is PredictionRejected (413) before anything is sent: the server
        would refuse it on its declared length and close the connection, and a client still
        sending then sees a broken pipe instead of the answer.
        """
        from googleapiclient.errors import HttpError

        if not isinstance(instances, list) or not instances:
            raise PredictionRejected("predict needs a non-empty list of instances")
        settings = self.settings
        request = self._request(instances)
        size = len(request.body or b"")
        if size > settings.max_request_bytes:
            raise PredictionRejected(f"the request body is {size} bytes; the prediction routine takes at most "
                                     f"{settings.max_request_bytes} (1.5 MB online limit); not sent", 413)
        last_problem = "no attempt made"
        last_status: int | None = None
        attempt = 0
        fresh = False
        while attempt <= settings.retries:
            if attempt and not fresh:
                delay = min(settings.max_backoff_s, settings.backoff_s * 2 ** (attempt - 1))
                time.sleep(delay * (0.5 + random.random() / 2))
            http, reused = self._borrow_http(fresh)
            fresh = False
            try:
                answer = request.execute(http=http, num_retries=0)
            except HttpError as error:
                attempt += 1
                self._return_http(http)
                last_status = error.resp.status
                last_problem = f"HTTP {last_status}: {_google_error_message(error)}"
                if last_status in RETRYABLE_STATUSES:
                    logger.warning("predict attempt %d: %s", attempt, last_problem)
                    continue
                if 400 <= last_status < 500:
                    raise PredictionRejected(f"the prediction routine rejected the request ({last_problem})",
                                             last_status) from None
                raise PredictionUnavailable(f"the prediction routine failed ({last_problem})", last_status) from None
            except (OSError, socket.timeout, httplib2.HttpLib2Error, HTTPException) as error:
                _close_http(http)
                if reused and not isinstance(error, socket.timeout):
                    # The server closed this kept-alive connection: try again at once on a new one.
                    logger.info("predict: a kept-alive connection to %s was closed (%s: %s); retrying on a "
                                "new connection", settings.base_url, type(error).__name__, error)
                    fresh = True
                    continue
                attempt += 1
                last_status = None
                last_problem = f"{type(error).__name__}: {error}"
                logger.warning("predict attempt %d: cannot reach %s: %s", attempt, settings.base_url,
                               last_problem)
                continue
            except Exception as error:  # googleapiclient raises a few odd types (e.g. on bad JSON)
                _close_http(http)
                raise PredictionUnavailable(
                    f"the prediction routine at {settings.base_url} gave an unusable answer: "
                    f"{type(error).__name__}: {error}") from None
            except BaseException:  # a deadline (gevent.Timeout) or shutdown: never reuse this connection
                _close_http(http)
                raise
            self._return_http(http)
            return _predictions_from(answer, len(instances))
        raise PredictionUnavailable(
            f"the prediction routine at {settings.base_url}v1/{settings.resource_name} is unavailable after "
            f"{settings.retries + 1} attempts ({last_problem})", last_status)


def _predictions_from(answer: Any, expected: int) -> list[dict]:
    if not isinstance(answer, dict):
        raise PredictionUnavailable("the prediction routine answered with something that is not a JSON object")
    if "error" in answer and "predictions" not in answer:
        # The legacy service reports a failing routine as HTTP 200 {"error": "..."}.
        raise PredictionUnavailable(f"the prediction routine failed: {answer['error']}")
    predictions = answer.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != expected:
        raise PredictionUnavailable(
            f"the prediction routine answered {type(predictions).__name__} "
            f"{len(predictions) if isinstance(predictions, list) else ''} for {expected} instances")
    return predictions


def _google_error_message(error) -> str:
    """The ``error.message`` of Google's JSON error body, else the raw reason."""
    import json
    try:
        content = json.loads(error.content.decode("utf-8", "replace"))
        detail = content.get("error")
        if isinstance(detail, dict) and detail.get("message"):
            return str(detail["message"])
        if isinstance(detail, str):
            return detail
    except (ValueError, AttributeError):
        pass
    return str(getattr(error, "reason", "") or error)


def _close_http(http) -> None:
    inner = getattr(http, "http", http)
    try:
        inner.close()
    except Exception:  # closing a broken connection must never raise
        pass


__all__ = ["PredictionClient", "PredictionClientSettings", "PredictionRejected", "PredictionUnavailable",
           "client_settings", "make_instance", "prediction_image", "DIRECTIONS"]
