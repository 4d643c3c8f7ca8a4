"""The relay's Flask app: ``/stream`` (WebSocket) and ``/healthz`` (HTTP).

Start it from this folder, as deployed (gunicorn >= 27 also wants ``--no-control-socket``):

    gunicorn -b 127.0.0.1:8001 -k flask_sockets.worker --no-control-socket main:app

gunicorn reads ``gunicorn.conf.py`` from this folder (Origin check at the handshake, shutdown
timeout). Settings come from the environment: ``RELAY_*`` (relay_settings.py) and
``FACESWAP_PREDICTION_*`` (where the prediction routine is, prediction_client.py).

- ``/stream``: one StreamSession per connection (docs/protocols.md, "Browser <-> relay").
  Connections whose Origin is not allowed are refused with 403 at the handshake (or, without
  gunicorn.conf.py, closed at once with code 1008). With FACESWAP_SESSION_SECRET set, a stream
  also needs the page's signed session token (``/stream?session=TOKEN``, session_token.py):
  none, expired or invalid -> closed at once with 4401, 4402 or 4403.
- ``/healthz``: always 200 while the relay runs; JSON says whether the prediction routine
  answers: ``{"status": "ok"|"degraded", "relay": "ok", "prediction_routine": {"available": ...,
  "reason": ..., "checked": "stream"|"probe"}, "connections": N}`` (N: open streams in this
  worker process). When no stream has reached the routine lately it sends a tiny probe frame.
- ``/livez``: 200 ``{"relay": "ok"}`` without touching the routine (App Engine's liveness and
  readiness checks, which run every few seconds).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# gunicorn runs from websocket_server/; the code imports itself (and faceswap) as packages.
_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent)
if _IMPORT_ROOT not in sys.path:
    sys.path.insert(0, _IMPORT_ROOT)

from flask import Flask, jsonify, request  # noqa: E402

from websocket_server.connection_guard import CLIENT_ADDRESS_KEY  # noqa: E402
from websocket_server.fair_scheduler import AddressReadBudget, FairScheduler  # noqa: E402
from websocket_server.origin_policy import OriginPolicy  # noqa: E402
from websocket_server.prediction_client import PredictionClientSettings, client_settings  # noqa: E402
from websocket_server.relay_settings import RelaySettings, relay_settings  # noqa: E402
from websocket_server.routine_gateway import RoutineGateway  # noqa: E402
from websocket_server.session_token import (QUERY_PARAMETER, SessionTokenChecker,  # noqa: E402
                                            SessionTokenSettings, session_token_settings)
from websocket_server.stream_session import StreamSession  # noqa: E402
from websocket_server.websocket_io import POLICY_VIOLATION, close_websocket  # noqa: E402
from websocket_server.websocket_routes import WebSocketSockets  # noqa: E402

logger = logging.getLogger("websocket_server.main")


def _log_through_gunicorn() -> None:
    """Send the relay's log records to gunicorn's error log, at gunicorn's --log-level."""
    gunicorn_logger = logging.getLogger("gunicorn.error")
    package_logger = logging.getLogger("websocket_server")
    if gunicorn_logger.handlers and not package_logger.handlers:
        package_logger.handlers = list(gunicorn_logger.handlers)
        package_logger.setLevel(gunicorn_logger.level)
        package_logger.propagate = False


def create_app(settings: RelaySettings | None = None,
               prediction_settings: PredictionClientSettings | None = None,
               token_settings: SessionTokenSettings | None = None) -> Flask:
    """The relay app; settings default to the environment (RELAY_*, FACESWAP_PREDICTION_*, FACESWAP_SESSION_*)."""
    settings = settings or relay_settings()
    prediction_settings = prediction_settings or client_settings()
    app = Flask(__name__)
    sockets = WebSocketSockets(app)
    gateway = RoutineGateway(prediction_settings, settings.retry_routine_after_s, settings.health_probe_interval_s)
    origin_policy = OriginPolicy(settings.allowed_origins, settings.allow_missing_origin)
    session_tokens = SessionTokenChecker(token_settings or session_token_settings())
    open_sessions: set[StreamSession] = set()
    scheduler = FairScheduler(settings.routine_calls, settings.routine_calls_per_address)
    read_budget = AddressReadBudget(settings.max_messages_per_second_per_address)

    @sockets.route("/stream")
    def stream(websocket):
        origin = request.environ.get("HTTP_ORIGIN")
        # The client's address: behind trusted proxies, from X-Forwarded-For (connection_guard.py).
        peer = request.environ.get(CLIENT_ADDRESS_KEY) or request.environ.get("REMOTE_ADDR", "?")
        if not origin_policy.allows(origin):
            logger.warning("closed a stream from origin %r (%s): origin not allowed", origin, peer)
            close_websocket(websocket, POLICY_VIOLATION, "origin not allowed")
            return
        refusal = session_tokens.refusal(request.args.get(QUERY_PARAMETER))
        if refusal is not None:
            logger.warning("closed a stream from %s: %s", peer, refusal.reason)
            close_websocket(websocket, refusal.code, refusal.reason)
            return
        session = StreamSession(websocket, settings, gateway, peer=peer, scheduler=scheduler,
                                read_budget=read_budget)
        open_sessions.add(session)
        try:
            session.run()
        finally:
            open_sessions.discard(session)

    @app.get("/healthz")
    def healthz():
        routine = gateway.health(deadline_s=settings.frame_deadline_s)
        return jsonify(status="ok" if routine["available"] else "degraded", relay="ok",
                       prediction_routine=routine, connections=len(open_sessions))

    @app.get("/livez")
    def livez():
        return jsonify(relay="ok", connections=len(open_sessions))

    if not session_tokens.required:
        logger.warning("FACESWAP_SESSION_SECRET is not set: any client may open a stream (local development only)")
    logger.info("relay ready: max message %d bytes, max %.0f frames/s per connection, origins %s, routine %s",
                settings.max_message_bytes, settings.max_frames_per_second, ", ".join(settings.allowed_origins),
                prediction_settings.base_url)
    return app


_log_through_gunicorn()
app = create_app()
