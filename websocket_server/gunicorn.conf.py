"""gunicorn configuration for the relay; gunicorn reads it from the folder it is started in.

    gunicorn -b 127.0.0.1:8001 -k flask_sockets.worker --no-control-socket main:app

- Every ``flask_sockets.worker`` gets GuardedWebSocketHandler (connection_guard.py): WebSocket
  handshakes from Origins outside RELAY_ALLOWED_ORIGINS are answered 403 instead of being
  upgraded, one address may hold at most RELAY_MAX_CONNECTIONS_PER_ADDRESS connections, and a
  connection must complete its HTTP request within RELAY_HANDSHAKE_TIMEOUT_S.
- Open streams never finish by themselves, so a graceful shutdown waits only
  ``graceful_timeout`` seconds before closing them.
Command-line options still override anything set here.
"""

import sys
from pathlib import Path

_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent)
if _IMPORT_ROOT not in sys.path:
    sys.path.insert(0, _IMPORT_ROOT)

graceful_timeout = 5


def post_worker_init(worker):
    """Swap in the guarded, Origin-checking handler (before the worker starts serving)."""
    from geventwebsocket.handler import WebSocketHandler

    from websocket_server.connection_guard import GuardedWebSocketHandler, guard_from_environment

    handler = getattr(worker, "wsgi_handler", None)
    if isinstance(handler, type) and issubclass(handler, WebSocketHandler):
        worker.wsgi_handler = GuardedWebSocketHandler
        settings = guard_from_environment()[0]
        worker.log.info("relay worker %s: WebSocket handshakes are checked against RELAY_ALLOWED_ORIGINS; at most "
                        "%d connections per address, %.0f s to complete a request", worker.pid,
                        settings.max_connections_per_address, settings.handshake_timeout_s)
