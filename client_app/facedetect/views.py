"""Views of the webcam page: the page itself (with the relay URL injected), the relay's session
tokens (handed out after consent) and a health check.

Frames never pass through Django: the page's JavaScript sends them straight to the relay.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from facedetect.session_token import issue_session_token


def _content_security_policy(websocket_url: str) -> str:
    """Only this site's own scripts/styles, and WebSocket connections only to the relay."""
    parts = urlsplit(websocket_url)
    relay_origin = f"{parts.scheme}://{parts.netloc}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"connect-src 'self' {relay_origin}",
        "img-src 'self' blob: data:",
        "media-src 'self' blob: mediastream:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def relay_url_for(request: HttpRequest, configured: str) -> tuple[str, str | None]:
    """(the relay URL this page should use, a note for the page or None).

    A page served over HTTPS may only open ``wss://`` connections (browsers block ``ws://`` as
    mixed content, except to loopback addresses). A ``ws://`` relay URL is therefore upgraded to
    ``wss://`` (same host, port and path: platforms that terminate TLS, like App Engine, answer
    both) on HTTPS pages, and the page says so, naming the setting to fix.
    """
    parts = urlsplit(configured)
    if request.is_secure() and parts.scheme == "ws" and parts.hostname not in LOOPBACK_HOSTS:
        secure = parts._replace(scheme="wss").geturl()
        return secure, (f"This page is served over HTTPS, so it connects to the relay at {secure}: "
                        f"FACESWAP_WEBSOCKET_URL says {configured}, which browsers block on HTTPS pages "
                        "(mixed content). Set it to the wss:// address.")
    return configured, None


@require_GET
def webcam_page(request: HttpRequest) -> HttpResponse:
    """The webcam page; the relay's WebSocket URL reaches the script as a JSON data block."""
    websocket_url, relay_note = relay_url_for(request, settings.FACESWAP_WEBSOCKET_URL)
    client_config = {
        "websocketUrl": websocket_url,
        "frameWidth": 640,
        "frameHeight": 480,
        "sessionTokenUrl": reverse("session-token"),
    }
    response = render(request, "facedetect/index.html", {"client_config": client_config, "relay_note": relay_note})
    response["Content-Security-Policy"] = _content_security_policy(websocket_url)
    response["Permissions-Policy"] = "camera=(self), microphone=()"
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def session_token(request: HttpRequest) -> JsonResponse:
    """A short-lived signed token for one stream: ``POST {"consent": true}`` ->
    ``{"token": "...", "expiresInS": 120}`` (token null when no FACESWAP_SESSION_SECRET is set,
    local development only). Without consent: 403. The script asks again before every connection.
    """
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("consent") is not True:
        return JsonResponse({"error": "agree to the terms on the page first (consent: true)"}, status=403)
    secret = settings.FACESWAP_SESSION_SECRET
    response = JsonResponse({"token": issue_session_token(secret) if secret else None,
                             "expiresInS": settings.FACESWAP_SESSION_MAX_AGE_S})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness for the local stack and load balancers: ``{"status": "ok"}``."""
    return JsonResponse({"status": "ok"})
