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

Behind proxies (``RELAY_TRUSTED_PROXIES``: App Engine flexible puts its nginx and Google's load
balancers in front), every TCP connection comes from a proxy, so a connection from a trusted proxy
is not capped at accept; its client address is read from ``X-Forwarded-For`` (the rightmost entry
that is not a trusted proxy, so a client cannot escape its cap by sending the header itself) and the
WebSocket upgrade is answered 429 when that address is at its cap. The /stream route reads the
address from ``environ["faceswap.client_address"]`` for the per-address budgets.
"""

from __future__ import annotations

import functools
import ipaddress
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


CLIENT_ADDRESS_KEY = "faceswap.client_address"


class TrustedProxies:
    """Which peers' X-Forwarded-For is believed, and the client address it gives."""

    def __init__(self, networks: list[str]):
        self.networks = [ipaddress.ip_network(network.strip(), strict=False) for network in networks if network.strip()]

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The rightmost X-Forwarded-For entry that is not a trusted proxy (``peer`` when the peer
        itself is not trusted or the header says nothing else)."""
        if peer not in self:
            return peer
        for entry in reversed([part.strip() for part in (forwarded_for or "").split(",") if part.strip()]):
            if entry not in self:
                return entry
        return peer


@functools.lru_cache(maxsize=1)
def guard_from_environment() -> tuple[RelaySettings, AddressCounter, TrustedProxies]:
    """This process's relay settings, address counter and trusted proxies (built once per worker)."""
    settings = relay_settings()
    return settings, AddressCounter(settings.max_connections_per_address), TrustedProxies(settings.trusted_proxies)


def client_address(handler) -> str:
    address = getattr(handler, "client_address", None)
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address or "?")


class GuardedWebSocketHandler(OriginCheckingWebSocketHandler):
    """One TCP connection: per-address cap and handshake timeout, then gevent-websocket as usual."""

    def handle(self):
        settings, counter, proxies = guard_from_environment()
        address = client_address(self)
        self._forwarded_client = None
        # A trusted proxy's connections are counted per client once the headers are read.
        counted = address not in proxies
        if counted and not counter.admit(address):
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
            if counted:
                counter.release(address)
            if self._forwarded_client is not None:
                counter.release(self._forwarded_client)

    def upgrade_websocket(self):
        _, counter, proxies = guard_from_environment()
        peer = client_address(self)
        client = proxies.client_address(peer, self.environ.get("HTTP_X_FORWARDED_FOR"))
        self.environ[CLIENT_ADDRESS_KEY] = client
        if peer in proxies and self.environ.get("HTTP_UPGRADE", "").lower() == "websocket" \
                and self._forwarded_client is None:
            if not counter.admit(client):
                body = b"too many connections from your address; close some and try again\n"
                self.start_response("429 Too Many Requests", [("Content-Type", "text/plain; charset=utf-8"),
                                                              ("Content-Length", str(len(body))),
                                                              ("Retry-After", "10")])
                return [body]
            self._forwarded_client = client
        return super().upgrade_websocket()
