"""gunicorn configuration for the relay; gunicorn reads it from the folder it is started in.

    gunicorn -b 127.0.0.1:8001 -k flask_sockets.worker --no-control-socket main:app

- Every ``flask_sockets.worker`` gets OriginCheckingWebSocketHandler, so WebSocket handshakes
  from Origins outside RELAY_ALLOWED_ORIGINS are answered 403 instead of being upgraded.
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
    """Swap in the Origin-checking handler (before the worker starts serving)."""
    from geventwebsocket.handler import WebSocketHandler

    from websocket_server.handshake import OriginCheckingWebSocketHandler

    handler = getattr(worker, "wsgi_handler", None)
    if isinstance(handler, type) and issubclass(handler, WebSocketHandler):
        worker.wsgi_handler = OriginCheckingWebSocketHandler
        worker.log.info("relay worker %s: WebSocket handshakes are checked against RELAY_ALLOWED_ORIGINS",
                        worker.pid)
