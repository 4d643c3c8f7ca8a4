"""Which browser Origins may open a stream.

A pattern is an exact origin (``https://faceswap.example.com``), an origin with any port
(``http://localhost:*``) or ``*`` (every origin). Origins are compared by scheme, host and port,
never as plain strings, so ``http://localhost:*`` does not admit ``http://localhost.evil.com``.

A handshake without an Origin header comes from a non-browser client (browsers always send one
for WebSockets); it is accepted when ``allow_missing_origin`` is set. The literal origin ``null``
(file:// pages, sandboxed frames) is refused unless listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int | None  # None in a pattern: any port


def _parse_origin(text: str, pattern: bool = False) -> _Origin | None:
    """scheme://host[:port] -> _Origin; None when ``text`` is not a plain origin."""
    text = text.strip().lower()
    any_port = pattern and text.endswith(":*")
    if any_port:
        text = text[:-2]
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password:
        return None
    if any_port:
        if port is not None:
            return None
        return _Origin(parts.scheme, parts.hostname, None)
    return _Origin(parts.scheme, parts.hostname, port if port is not None else DEFAULT_PORTS[parts.scheme])


class OriginPolicy:
    """Decides whether a handshake's Origin header is allowed."""

    def __init__(self, allowed_origins: list[str], allow_missing_origin: bool = True):
        self.allow_every_origin = any(pattern.strip() == "*" for pattern in allowed_origins)
        self.allow_missing_origin = allow_missing_origin
        self._exact = {pattern.strip().lower() for pattern in allowed_origins}
        self._patterns = [parsed for parsed in (_parse_origin(p, pattern=True) for p in allowed_origins) if parsed]

    def allows(self, origin: str | None) -> bool:
        """True when a handshake carrying this Origin header (None: no header) may proceed."""
        if origin is None or origin == "":
            return self.allow_missing_origin
        if self.allow_every_origin:
            return True
        if origin.strip().lower() in self._exact and origin.strip().lower() == "null":
            return True
        parsed = _parse_origin(origin)
        if parsed is None:
            return False
        for allowed in self._patterns:
            if allowed.scheme == parsed.scheme and allowed.host == parsed.host \
                    and (allowed.port is None or allowed.port == parsed.port):
                return True
        return False
