"""Session tokens: the relay admits only streams that the webcam page issued.

After the visitor agrees to the consent terms, the page (client_app, ``POST /session-token``)
hands out a short-lived signed token; the page's script opens ``/stream?session=TOKEN``. The
relay checks the token at the WebSocket handshake, before any frame reaches the prediction
routine (whose replicas the operator pays for).

Format (shared with client_app/facedetect/session_token.py, which issues the tokens):
itsdangerous ``URLSafeTimedSerializer`` (HMAC-SHA1 over a base64url JSON payload plus a
timestamp; https://itsdangerous.palletsprojects.com/) with the secret ``FACESWAP_SESSION_SECRET``
and the salt ``SALT``; the payload is ``{"v": 1, "sid": <random id>, "consent": true}``.

Settings, the same names on both tiers (``FACESWAP_SESSION_<FIELD>``):

``FACESWAP_SESSION_SECRET``      the shared signing secret (Secret Manager -> environment; see
                                 docs/deployment.md). Unset: tokens are not required (local
                                 development only; the relay logs a warning at start).
``FACESWAP_SESSION_MAX_AGE_S``   how long a token may be used to open a stream (default 120 s;
                                 an open stream is not cut when its token expires).

Refusals close the WebSocket right after the upgrade with a close code the page can read
(browsers hide a refused handshake's HTTP status): 4401 no token, 4402 expired, 4403 invalid
(forged, signed with another secret, or malformed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from faceswap.errors import FaceswapError
from faceswap.settings import setting, settings_from

logger = logging.getLogger(__name__)

ENV_PREFIX = "FACESWAP_SESSION_"
SALT = "faceswap.relay-session.v1"
QUERY_PARAMETER = "session"

TOKEN_MISSING = 4401
TOKEN_EXPIRED = 4402
TOKEN_INVALID = 4403


@dataclass
class SessionTokenSettings:
    """The shared secret and the lifetime of session tokens (FACESWAP_SESSION_*)."""

    secret: str | None = setting(None, "secret the page signs session tokens with; unset: no token required")
    max_age_s: float = setting(120.0, "seconds a session token may be used to open a stream")

    def __post_init__(self) -> None:
        if self.secret is not None and not self.secret.strip():
            self.secret = None
        if self.secret is not None and len(self.secret) < 32:
            raise FaceswapError("FACESWAP_SESSION_SECRET must be at least 32 characters (a long random string)")
        if self.max_age_s <= 0:
            raise FaceswapError(f"FACESWAP_SESSION_MAX_AGE_S must be positive, got {self.max_age_s}")

    def __repr__(self) -> str:  # never print the secret
        return f"SessionTokenSettings(secret={'set' if self.secret else None}, max_age_s={self.max_age_s})"

    @property
    def required(self) -> bool:
        return self.secret is not None


def session_token_settings(environ: Mapping[str, str] | None = None, **overrides) -> SessionTokenSettings:
    """SessionTokenSettings from defaults <- FACESWAP_SESSION_* environment <- ``overrides``."""
    return settings_from(SessionTokenSettings, None, env_prefix=ENV_PREFIX, environ=environ, **overrides)


@dataclass(frozen=True)
class Refusal:
    """Why a handshake was refused: the WebSocket close code and a reason the page shows."""

    code: int
    reason: str


class SessionTokenChecker:
    """Checks the ``session`` query parameter of a /stream handshake."""

    def __init__(self, settings: SessionTokenSettings):
        self.settings = settings
        self._serializer = URLSafeTimedSerializer(settings.secret, salt=SALT) if settings.secret else None

    @property
    def required(self) -> bool:
        return self._serializer is not None

    def refusal(self, token: str | None) -> Refusal | None:
        """None when the stream may start; otherwise the Refusal to close it with."""
        if self._serializer is None:
            return None
        if not token:
            return Refusal(TOKEN_MISSING, "session token missing: open the page and agree to the terms")
        try:
            payload = self._serializer.loads(token, max_age=self.settings.max_age_s)
        except SignatureExpired:
            return Refusal(TOKEN_EXPIRED, "session token expired: the page fetches a new one")
        except BadSignature:
            return Refusal(TOKEN_INVALID, "session token invalid")
        if not isinstance(payload, dict) or payload.get("v") != 1 or payload.get("consent") is not True:
            return Refusal(TOKEN_INVALID, "session token invalid")
        return None
