"""The page behind HTTPS (issue 12, item 12): HSTS on HTTPS responses with the deployed settings,
and a ``ws://`` relay URL upgraded to ``wss://`` on HTTPS pages, with a note saying so."""

from __future__ import annotations

import json
import re

from tests.client_app.client_app_helpers import TEST_WEBSOCKET_URL


def page_config(response) -> dict:
    match = re.search(r'<script id="client-config" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    assert match
    return json.loads(match.group(1))


def test_https_page_sends_hsts_and_connects_with_wss(django_client):
    assert TEST_WEBSOCKET_URL.startswith("ws://")
    # App Engine terminates TLS and says so in X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER).
    response = django_client.get("/", HTTP_HOST="page.test.invalid", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    secure_url = "wss://" + TEST_WEBSOCKET_URL[len("ws://"):]
    assert page_config(response)["websocketUrl"] == secure_url
    assert "connect-src 'self' wss://relay.test.invalid:9443" in response["Content-Security-Policy"]
    html = response.content.decode()
    note = re.search(r'<p id="relay-note"[^>]*>(.*?)</p>', html, re.S)
    assert note and "served over HTTPS" in note.group(1) and "FACESWAP_WEBSOCKET_URL" in note.group(1)


def test_plain_http_page_keeps_the_configured_url_and_sends_no_hsts(django_client):
    response = django_client.get("/", HTTP_HOST="page.test.invalid")
    assert "Strict-Transport-Security" not in response
    assert page_config(response)["websocketUrl"] == TEST_WEBSOCKET_URL
    assert 'id="relay-note"' not in response.content.decode()
