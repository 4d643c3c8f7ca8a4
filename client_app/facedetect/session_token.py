"""Issue the relay's session tokens (checked by websocket_server/session_token.py).

The page hands a visitor a token only after they agreed to the consent terms; the relay opens a
stream only with a valid, unexpired token, so a script that never loaded the page cannot spend
the operator's prediction quota by talking to the relay directly.

Format (must match websocket_server/session_token.py): itsdangerous ``URLSafeTimedSerializer``
with the secret FACESWAP_SESSION_SECRET and the salt ``SALT``; payload
``{"v": 1, "sid": <128-bit random hex>, "consent": true}``. The signature carries the issue time;
the relay refuses tokens older than FACESWAP_SESSION_MAX_AGE_S.
"""

from __future__ import annotations

import secrets

from itsdangerous import URLSafeTimedSerializer

SALT = "faceswap.relay-session.v1"


def issue_session_token(secret: str) -> str:
    """A new signed token (URL-safe ASCII, ~110 characters) for one visitor who consented."""
    payload = {"v": 1, "sid": secrets.token_hex(16), "consent": True}
    return URLSafeTimedSerializer(secret, salt=SALT).dumps(payload)
