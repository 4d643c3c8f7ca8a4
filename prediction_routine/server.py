"""Local prediction server: ModelPrediction behind the same REST contracts as Google's services.

One client (websocket_server/prediction_client.py) therefore talks to this server, to a Vertex AI
endpoint and to a legacy AI Platform version alike:

- legacy AI Platform:  POST /v1/projects/{p}/models/{m}:predict
                       POST /v1/projects/{p}/models/{m}/versions/{v}:predict
- Vertex AI:           POST /v1/projects/{p}/locations/{l}/endpoints/{e}:predict
- Vertex custom container: POST $AIP_PREDICT_ROUTE (default /predict), GET $AIP_HEALTH_ROUTE
  (default /health); the container listens on $AIP_HTTP_PORT (gunicorn_config.py).

Body ``{"instances": [...]}`` -> ``{"predictions": [...]}`` (docs/protocols.md). Whole-request
errors use Google's JSON error shape ``{"error": {"code", "message", "status"}}``: 400
INVALID_ARGUMENT (bad body), 404 NOT_FOUND, 413 (body over the 1.5 MB limit), 503 UNAVAILABLE
(model not loaded), 500 INTERNAL (a bug; the server keeps serving).

The model directory: ``create_app(model_dir)``, else MODEL_DIR, else AIP_STORAGE_URI (a gs://
folder is copied at container start, see model_location.py), else models/default. It loads once
per worker process, before the worker serves: a broken model directory stops gunicorn with one
clear line ("App failed to load"), not a traceback. The face detector (MediaPipe, seconds to
import) then loads in the background; until it is ready /health and predict answer 503.

    MODEL_DIR=models/default .venv/bin/gunicorn -b 127.0.0.1:8002 -w 2 -k sync \\
        --no-control-socket "prediction_routine.server:create_app()"
    # or with the container settings: gunicorn -c prediction_routine/gunicorn_config.py "prediction_routine.server:create_app()"
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

from prediction_routine.native_threads import SINGLE_THREAD_ENVIRONMENT, limit_native_threads, limit_opencv_threads

if "gunicorn" in sys.modules:
    # A server worker (gunicorn imports the app): one thread per native library, set before
    # numpy/OpenCV/TFLite load. A process that merely imports this module (tests, tools) keeps its own.
    limit_native_threads()

from flask import Flask, Response, request  # noqa: E402
from werkzeug.exceptions import HTTPException  # noqa: E402

from faceswap.errors import FaceswapError, InputError  # noqa: E402
from faceswap.json_limits import MAX_JSON_DEPTH, nesting_depth  # noqa: E402
from faceswap.settings import setting, settings_from  # noqa: E402
from prediction_routine.instances import ONLINE_PREDICTION_LIMIT_BYTES  # noqa: E402
from prediction_routine.model_location import model_uri_from_environment  # noqa: E402
from prediction_routine.request_guard import RequestGuard, UploadLimits  # noqa: E402

logger = logging.getLogger(__name__)

SERVER_ENV_PREFIX = "FACESWAP_SERVER_"
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE"}


@dataclass
class ServerSettings:
    """Prediction-server settings (environment FACESWAP_SERVER_*, plus Vertex's AIP_* variables)."""

    model_dir: str | None = setting(None, "exported model directory (None: MODEL_DIR, AIP_STORAGE_URI, models/default)")
    predict_route: str = setting("/predict", "extra predict route for Vertex custom containers (AIP_PREDICT_ROUTE)")
    health_route: str = setting("/health", "health route (AIP_HEALTH_ROUTE)")
    max_body_bytes: int = setting(ONLINE_PREDICTION_LIMIT_BYTES, "largest request body, bytes (413 above)")
    load_in_background: bool = setting(
        True, "load the face detector (MediaPipe: seconds to import) after the worker starts, answering 503 "
              "until it is ready, so a slow start never trips gunicorn's worker timeout; the model itself "
              "always loads first, so a broken model directory still stops the server")


def server_settings(environ=None, **overrides) -> ServerSettings:
    """ServerSettings from defaults <- AIP_* <- FACESWAP_SERVER_* <- ``overrides``."""
    environ = os.environ if environ is None else environ
    settings = settings_from(ServerSettings, env_prefix=SERVER_ENV_PREFIX, environ=environ, **overrides)
    if "AIP_PREDICT_ROUTE" in environ and f"{SERVER_ENV_PREFIX}PREDICT_ROUTE" not in environ \
            and "predict_route" not in overrides:
        settings.predict_route = environ["AIP_PREDICT_ROUTE"]
    if "AIP_HEALTH_ROUTE" in environ and f"{SERVER_ENV_PREFIX}HEALTH_ROUTE" not in environ \
            and "health_route" not in overrides:
        settings.health_route = environ["AIP_HEALTH_ROUTE"]
    return settings


def google_error(code: int, message: str) -> Response:
    """A response in Google's JSON error shape."""
    body = {"error": {"code": code, "message": message, "status": GOOGLE_STATUS.get(code, "UNKNOWN")}}
    return Response(json.dumps(body), status=code, mimetype="application/json")


def _json_loads(data: bytes):
    """orjson when installed (2x faster than json on a predict body); ValueError for bad JSON either way."""
    try:
        import orjson
    except ImportError:
        return json.loads(data)
    return orjson.loads(data)


def _json_dumps(value) -> bytes:
    """orjson when installed (~40x faster than json.dumps on a predictions body: 2 us against 90 us)."""
    try:
        import orjson
    except ImportError:
        return json.dumps(value).encode()
    return orjson.dumps(value)


class _RequestCpu:
    """Process CPU ms of a request outside the routine, for ``report_cpu`` (RoutineSettings; like the
    routine's stages, exact when the worker serves one request at a time).

    A predict request reports ``cpu_json`` (parsing its body + the running mean of dumping the
    answer) and ``cpu_http`` (reading the body + the running mean of the rest of the request:
    Flask's dispatch and gunicorn writing the response), per instance. The means come from earlier
    requests because an answer cannot contain the cost of its own writing.
    """

    def __init__(self, weight: float = 0.1):
        self.weight = weight
        self.dump_ms = 0.0
        self.rest_ms = 0.0
        self._lock = threading.Lock()

    def learn(self, dump_ms: float, rest_ms: float) -> None:
        with self._lock:
            self.dump_ms += self.weight * (dump_ms - self.dump_ms)
            self.rest_ms += self.weight * (max(0.0, rest_ms) - self.rest_ms)


class _MeasureRequestCpu:
    """WSGI middleware: the process CPU from the call until the server closed the response
    (after writing it), handed to ``_RequestCpu.learn`` with what the view accounted for."""

    def __init__(self, app, meter: _RequestCpu):
        self.app = app
        self.meter = meter

    def __call__(self, environ, start_response):
        started = time.process_time()
        environ["faceswap.cpu_accounted_ms"] = None
        body = self.app(environ, start_response)
        return _ClosingBody(body, lambda: self._finished(environ, started))

    def _finished(self, environ, started: float) -> None:
        accounted = environ.get("faceswap.cpu_accounted_ms")
        if accounted is not None:
            total_ms = (time.process_time() - started) * 1000.0
            self.meter.learn(accounted["dump"], total_ms - accounted["total"])


class _ClosingBody:
    """A WSGI response body that calls ``on_close`` after the server closed it."""

    def __init__(self, body, on_close):
        self._body = body
        self._on_close = on_close

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            self._on_close()


class _LoadedRoutine:
    """The worker's ModelPrediction, or why there is none yet."""

    def __init__(self):
        self.routine = None
        self.problem = "the prediction routine is still loading (face detector)"
        self.model_dir = None
        self.load_seconds = None


def _load_model(state: _LoadedRoutine, model_dir: str):
    """Step 1, before serving: the exported model (quick; a broken directory fails here)."""
    from prediction_routine.predictor import ModelPrediction

    state.model_dir = model_dir
    if model_dir.startswith("gs://"):
        raise FaceswapError(f"{model_dir}: a gs:// model folder must be copied before the workers start; "
                            "run under prediction_routine/gunicorn_config.py or set MODEL_DIR to a local copy")
    return ModelPrediction.load_model(model_dir)


def _load_pipeline(state: _LoadedRoutine, model, started: float) -> None:
    """Step 2: the face detector (MediaPipe, seconds to import) and the routine; never raises."""
    from prediction_routine.predictor import ModelPrediction

    try:
        state.routine = ModelPrediction.from_model(model)
    except Exception as error:  # keep serving health checks that say what went wrong
        state.problem = f"the face detector could not be loaded: {type(error).__name__}: {error}"
        logger.exception("loading the face detector failed")
        return
    state.load_seconds = time.perf_counter() - started
    state.problem = None
    logger.info("prediction server ready: model %s, loaded in %.1f s (pid %d)", state.model_dir,
                state.load_seconds, os.getpid())


def _startup_failure(error: FaceswapError):
    """Under gunicorn: stop the whole server with one clear line (exit code 4, "App failed to load")."""
    message = f"cannot start the prediction server: {error}"
    if "gunicorn.arbiter" in sys.modules:
        from gunicorn.errors import AppImportError

        return AppImportError(message)
    return error


def create_app(model_dir: str | None = None, settings: ServerSettings | None = None) -> Flask:
    """The Flask app with a loaded ModelPrediction (gunicorn calls this once per worker).

    The model loads before this returns; raises FaceswapError (under gunicorn: AppImportError
    with the same sentence) when the model directory is missing files or holds corrupt ones. The
    face detector then loads in the background (``load_in_background``): /health and predict
    answer 503 UNAVAILABLE until it is ready.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings or server_settings()
    if "gunicorn" in sys.modules:
        limit_opencv_threads()
        logger.info("native thread pools: %s, OpenCV 1", ", ".join(
            f"{name}={os.environ.get(name)}" for name in SINGLE_THREAD_ENVIRONMENT))
    model_dir = model_dir or settings.model_dir or model_uri_from_environment()
    state = _LoadedRoutine()
    started = time.perf_counter()
    try:
        model = _load_model(state, model_dir)
    except FaceswapError as error:
        raise _startup_failure(error) from None
    if settings.load_in_background:
        threading.Thread(target=_load_pipeline, args=(state, model, started), name="detector-loader",
                         daemon=True).start()
    else:
        _load_pipeline(state, model, started)
        if state.routine is None:
            raise _startup_failure(FaceswapError(state.problem))

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["faceswap_routine"] = state
    request_cpu = _RequestCpu()
    # JSON content type, Content-Length, bounded body read time, a cap on concurrent uploads.
    app.wsgi_app = RequestGuard(app.wsgi_app, settings_from(UploadLimits, env_prefix=SERVER_ENV_PREFIX),
                                settings.max_body_bytes)
    app.wsgi_app = _MeasureRequestCpu(app.wsgi_app, request_cpu)

    def predict(**_resource) -> Response:
        if state.routine is None:
            return google_error(503, state.problem or "the model is not loaded")
        length = request.content_length
        if length is not None and length > settings.max_body_bytes:
            return google_error(413, f"the request body is {length} bytes; the limit is {settings.max_body_bytes} "
                                     "bytes (1.5 MB)")
        view_started = time.process_time()
        data = request.get_data(cache=False)
        read = time.process_time()
        try:
            body = _json_loads(data)
        except (ValueError, UnicodeDecodeError):
            return google_error(400, 'the request body is not JSON; expected {"instances": [...]}')
        parsed = time.process_time()
        if nesting_depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            return google_error(400, f"the request body is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
        if not isinstance(body, dict) or "instances" not in body:
            return google_error(400, 'the request body has no "instances" field; expected {"instances": [...]}')
        try:
            predictions = state.routine.predict(body["instances"])
        except InputError as error:
            return google_error(400, str(error))
        if state.routine.settings.report_cpu:
            _report_request_cpu(predictions, (read - view_started) * 1000.0, (parsed - read) * 1000.0)
        dump_started = time.process_time()
        answer = _json_dumps({"predictions": predictions})
        finished = time.process_time()
        if state.routine.settings.report_cpu:
            accounted = sum(value for prediction in predictions for name, value in prediction["timings_ms"].items()
                            if name.startswith("cpu_"))
            request.environ["faceswap.cpu_accounted_ms"] = {
                "dump": (finished - dump_started) * 1000.0,
                "total": accounted - request_cpu.dump_ms - request_cpu.rest_ms + (finished - dump_started) * 1000.0}
        return Response(answer, mimetype="application/json")

    def _report_request_cpu(predictions: list[dict], read_ms: float, parse_ms: float) -> None:
        share = 1.0 / max(1, len(predictions))
        for prediction in predictions:
            prediction["timings_ms"]["cpu_json"] = round((parse_ms + request_cpu.dump_ms) * share, 3)
            prediction["timings_ms"]["cpu_http"] = round((read_ms + request_cpu.rest_ms) * share, 3)

    def health() -> Response:
        if state.routine is None:
            return google_error(503, state.problem or "the model is not loaded")
        return Response(json.dumps({"status": "ok", "model_dir": str(state.model_dir),
                                    "backend": state.routine.settings.backend, "pid": os.getpid()}),
                        mimetype="application/json")

    rules = ["/v1/projects/<project>/models/<model>:predict",
             "/v1/projects/<project>/models/<model>/versions/<version>:predict",
             "/v1/projects/<project>/locations/<location>/endpoints/<endpoint>:predict"]
    for number, rule in enumerate(rules):
        app.add_url_rule(rule, f"predict_{number}", predict, methods=["POST"])
    if settings.predict_route and settings.predict_route not in rules:
        app.add_url_rule(settings.predict_route, "predict_container", predict, methods=["POST"])
    app.add_url_rule(settings.health_route, "health", health, methods=["GET"])
    for number, alias in enumerate(sorted({"/health", "/healthz"} - {settings.health_route})):
        app.add_url_rule(alias, f"health_alias_{number}", health, methods=["GET"])

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 413:
            return google_error(413, f"the request body is over the limit of {settings.max_body_bytes} bytes (1.5 MB)")
        return google_error(error.code or 500, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        logger.exception("unexpected error while serving %s", request.path)
        return google_error(500, f"internal error: {type(error).__name__}: {error}")

    return app


def __getattr__(name: str):
    """``prediction_routine.server:app`` (gunicorn's short form) builds the app on first access."""
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
