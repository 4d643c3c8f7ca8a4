"""Connection-level limits of the relay: per-address caps and handshake timeouts (issue 12, item 2).

``gunicorn.conf.py`` makes every relay worker serve connections with ``GuardedWebSocketHandler``
(gevent-websocket's handler with the Origin check of handshake.py), which, for each accepted TCP
connection, before reading a byte of it:

- counts it against its client address; past ``RELAY_MAX_CONNECTIONS_PER_ADDRESS`` open
  connections from one address (per worker process) the new one is closed at once, so a thousand
  idle or half-open sockets from one address cost that address its own connections and nobody
  else theirs (gunicorn's gevent worker serves at most ``worker_connections``, 1000, at a time);
- gives it ``RELAY_HANDSHAKE_TIMEOUT_S`` to send a complete HTTP request (the WebSocket handshake,
  or a health check); an HTTP keep-alive connection left idle is closed after the same time.

Once a connection is a stream, StreamSession sets the socket's timeout to ``RELAY_IDLE_TIMEOUT_S``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter

from websocket_server.handshake import OriginCheckingWebSocketHandler
from websocket_server.relay_settings import RelaySettings, relay_settings

logger = logging.getLogger(__name__)


class AddressCounter:
    """Open connections per client address in this worker process (greenlet-safe: no yields)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open: Counter[str] = Counter()
        self.refused = 0
        self._last_warning = 0.0

    def admit(self, address: str) -> bool:
        """Count one more connection from ``address``; False (not counted) when it is at the limit."""
        if self.open[address] >= self.limit:
            self.refused += 1
            now = time.monotonic()
            if now - self._last_warning > 10.0:  # one line per 10 s, whatever the flood
                self._last_warning = now
                logger.warning("closed a connection from %s: %d connections open from that address (limit %d; "
                               "%d refused so far)", address, self.open[address], self.limit, self.refused)
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


@functools.lru_cache(maxsize=1)
def guard_from_environment() -> tuple[RelaySettings, AddressCounter]:
    """This process's relay settings and address counter (built once per worker)."""
    settings = relay_settings()
    return settings, AddressCounter(settings.max_connections_per_address)


def client_address(handler) -> str:
    address = getattr(handler, "client_address", None)
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address or "?")


class GuardedWebSocketHandler(OriginCheckingWebSocketHandler):
    """One TCP connection: per-address cap and handshake timeout, then gevent-websocket as usual."""

    def handle(self):
        settings, counter = guard_from_environment()
        address = client_address(self)
        if not counter.admit(address):
            try:
                self.socket.close()
            except OSError:
                pass
            self.__dict__.pop("socket", None)
            return None
        try:
            # socket.timeout ends gevent's request loop quietly (read_requestline -> socket.error).
            self.socket.settimeout(settings.handshake_timeout_s)
            return super().handle()
        finally:
            counter.release(address)
