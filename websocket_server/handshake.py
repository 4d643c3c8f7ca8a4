"""Refuse WebSocket handshakes from Origins outside the allow-list, before the upgrade.

gevent-websocket answers ``101 Switching Protocols`` before the Flask app sees the request, so
the app alone could only close an unwanted connection after accepting it. ``gunicorn.conf.py``
(read by gunicorn from this folder) makes the ``flask_sockets.worker`` use
``OriginCheckingWebSocketHandler``, which answers ``403 Forbidden`` instead of upgrading. The
/stream route checks the Origin again (closing with 1008), in case the relay is started
without that configuration file.
"""

from __future__ import annotations

import functools
import logging

from geventwebsocket.handler import WebSocketHandler

from websocket_server.origin_policy import OriginPolicy
from websocket_server.relay_settings import relay_settings

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def origin_policy_from_environment() -> OriginPolicy:
    """The OriginPolicy of RELAY_ALLOWED_ORIGINS / RELAY_ALLOW_MISSING_ORIGIN (read once per process)."""
    settings = relay_settings()
    return OriginPolicy(settings.allowed_origins, settings.allow_missing_origin)


class OriginCheckingWebSocketHandler(WebSocketHandler):
    """gevent-websocket's handler, answering 403 to upgrade requests from a disallowed Origin."""

    def upgrade_websocket(self):
        is_upgrade = self.environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        origin = self.environ.get("HTTP_ORIGIN")
        if is_upgrade and not origin_policy_from_environment().allows(origin):
            logger.warning("refused a WebSocket handshake from origin %r (%s)", origin,
                           self.environ.get("REMOTE_ADDR"))
            body = f"origin {origin!r} is not allowed to open a stream on this relay\n".encode("utf-8")
            self.start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                                  ("Content-Length", str(len(body)))])
            return [body]
        return super().upgrade_websocket()
