"""Settings of the relay: who may connect, how big and how fast frames may be, how long a dead
prediction routine is skipped.

Every field can be set from the environment as ``RELAY_<FIELD>`` (upper case), e.g.
``RELAY_ALLOWED_ORIGINS=https://faceswap.example.com,http://localhost:*`` or
``RELAY_MAX_FRAMES_PER_SECOND=30``. Where the prediction routine lives is the prediction
client's business: ``FACESWAP_PREDICTION_*`` (see prediction_client.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from faceswap.errors import FaceswapError
from faceswap.settings import setting, settings_from

ENV_PREFIX = "RELAY_"


@dataclass
class RelaySettings:
    """Limits and policies of the relay (one instance per worker process)."""

    allowed_origins: list[str] = setting(
        ["http://127.0.0.1:*", "http://localhost:*"],
        "browser Origins allowed to open /stream, comma separated; `scheme://host:*` allows any port, "
        "`*` allows every origin")
    allow_missing_origin: bool = setting(
        True, "accept handshakes without an Origin header (non-browser clients; browsers always send one)")
    max_message_bytes: int = setting(1_500_000, "largest WebSocket message accepted (header + JPEG), bytes")
    max_header_bytes: int = setting(8192, "largest JSON header inside a message, bytes")
    max_frames_per_second: float = setting(
        60.0, "frames per second one connection may send (a burst of one second's worth is allowed)")
    retry_routine_after_s: float = setting(
        1.0, "after the routine failed, frames come back degraded at once for this long, then it is tried again")
    health_probe_interval_s: float = setting(
        5.0, "/healthz probes the routine at most this often (a successful stream frame counts as a probe)")
    session_close_timeout_s: float = setting(
        2.0, "on disconnect, how long the worker may take to finish before it is stopped")
    trusted_proxies: list[str] = setting(
        [], "addresses or networks (CIDR) of proxies in front of the relay whose X-Forwarded-For is believed, comma "
            "separated; the client address is then the rightmost X-Forwarded-For entry that is not one of them "
            "(App Engine flexible: its nginx and Google's load balancers, see app.yaml)")
    max_connections_per_address: int = setting(
        32, "open TCP connections one client address may hold in one worker (streams, handshakes, health "
            "checks); further connections are closed at once")
    handshake_timeout_s: float = setting(
        10.0, "time a connection has to send a complete HTTP request (the WebSocket handshake); an idle "
              "keep-alive HTTP connection is closed after it too")
    idle_timeout_s: float = setting(
        60.0, "a stream with no message from the client for this long is closed (code 1001); a client that "
              "stops reading is dropped after it too")
    abuse_tolerance_frames: float = setting(
        0.0, "frames over the frame-rate limit tolerated before the connection is closed with 1008 (the "
             "allowance refills at half the rate limit); 0: two seconds' worth of frames")
    max_messages_per_second_per_address: float = setting(
        60.0, "messages per second read from all streams of one client address together (two webcams at 30 "
              "frames/s; a burst of one second's worth); the rest wait in the client's socket")
    routine_calls: int = setting(16, "routine calls in flight at once per worker, shared fairly between addresses")
    routine_calls_per_address: int = setting(
        4, "routine calls in flight at once for one client address (its other streams wait their turn)")
    frame_deadline_s: float = setting(
        2.5, "a frame not answered by the routine within this time (from arrival) comes back degraded; "
             "below the page's 3 s frame timeout")

    def __post_init__(self) -> None:
        if self.max_message_bytes < 1024:
            raise FaceswapError(f"RELAY_MAX_MESSAGE_BYTES must be at least 1024, got {self.max_message_bytes}")
        if not 2 <= self.max_header_bytes < self.max_message_bytes:
            raise FaceswapError(
                f"RELAY_MAX_HEADER_BYTES must be between 2 and RELAY_MAX_MESSAGE_BYTES, got {self.max_header_bytes}")
        if self.max_frames_per_second <= 0:
            raise FaceswapError(
                f"RELAY_MAX_FRAMES_PER_SECOND must be positive, got {self.max_frames_per_second}")
        if self.retry_routine_after_s < 0 or self.health_probe_interval_s < 0:
            raise FaceswapError("RELAY_RETRY_ROUTINE_AFTER_S and RELAY_HEALTH_PROBE_INTERVAL_S must not be negative")
        if self.max_connections_per_address < 1 or self.routine_calls < 1 or self.routine_calls_per_address < 1:
            raise FaceswapError("RELAY_MAX_CONNECTIONS_PER_ADDRESS, RELAY_ROUTINE_CALLS and "
                                "RELAY_ROUTINE_CALLS_PER_ADDRESS must be at least 1")
        if min(self.handshake_timeout_s, self.idle_timeout_s, self.frame_deadline_s) <= 0:
            raise FaceswapError("RELAY_HANDSHAKE_TIMEOUT_S, RELAY_IDLE_TIMEOUT_S and RELAY_FRAME_DEADLINE_S must be "
                                "positive")
        if self.max_messages_per_second_per_address <= 0:
            raise FaceswapError("RELAY_MAX_MESSAGES_PER_SECOND_PER_ADDRESS must be positive")
        if self.abuse_tolerance_frames <= 0:
            self.abuse_tolerance_frames = 2 * self.max_frames_per_second
        self.allowed_origins = [origin.strip() for origin in self.allowed_origins if origin.strip()]


def relay_settings(environ: Mapping[str, str] | None = None, **overrides) -> RelaySettings:
    """RelaySettings from defaults <- RELAY_* environment <- ``overrides``."""
    return settings_from(RelaySettings, None, env_prefix=ENV_PREFIX, environ=environ, **overrides)
