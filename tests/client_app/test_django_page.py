"""The Django project of the webcam page: rendering, static files, settings from the environment."""

from __future__ import annotations

import json
import re

from tests.client_app.client_app_helpers import (CLIENT_APP, TEST_SESSION_SECRET, TEST_WEBSOCKET_URL, run_manage,
                                                 run_python)
from websocket_server.session_token import SessionTokenChecker, session_token_settings

STATIC_FILES = ["facedetect/app.js", "facedetect/favicon.svg", "facedetect/protocol.js", "facedetect/style.css"]


def test_page_renders_consent_label_and_injected_websocket_url(django_client):
    response = django_client.get("/", HTTP_HOST="page.test.invalid")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="consent"' in html and "I understand the output is synthetic" in html
    assert re.search(r'class="ai-label"[^>]*>AI-generated<', html)
    match = re.search(r'<script id="client-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the relay URL must reach the script as a JSON data block"
    assert json.loads(match.group(1))["websocketUrl"] == TEST_WEBSOCKET_URL
    for name in ["facedetect/app.js", "facedetect/style.css", "facedetect/favicon.svg"]:
        assert f"/static/{name}" in html
    # The camera is only requested by the script after consent; the studio starts hidden.
    assert re.search(r'<section id="studio"[^>]*\bhidden\b', html)
    policy = response["Content-Security-Policy"]
    assert "connect-src 'self' ws://relay.test.invalid:9443" in policy
    assert "script-src 'self'" in policy


def test_health_route(django_client):
    response = django_client.get("/healthz", HTTP_HOST="page.test.invalid")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_allowed_hosts_come_from_the_environment(django_client):
    assert django_client.get("/", HTTP_HOST="page.test.invalid").status_code == 200
    assert django_client.get("/", HTTP_HOST="attacker.test.invalid").status_code == 400


def test_page_only_answers_get(django_client):
    assert django_client.post("/", HTTP_HOST="page.test.invalid").status_code == 405


def test_collectstatic_is_a_build_step_that_needs_no_secret(tmp_path):
    result = run_manage("collectstatic", "--noinput", DJANGO_STATIC_ROOT=str(tmp_path))  # DEBUG off, no secrets
    assert result.returncode == 0, result.stderr
    for name in STATIC_FILES:
        collected = tmp_path / name
        assert collected.is_file(), name
        assert collected.read_bytes() == (CLIENT_APP / "facedetect" / "static" / name).read_bytes()


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    result = run_manage("check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY=None)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_serving_refuses_without_the_session_secret_when_debug_is_off():
    result = run_manage("check", DJANGO_SECRET_KEY="k")
    assert result.returncode != 0
    assert "FACESWAP_SESSION_SECRET is not set" in result.stderr
    result = run_python("import facedetect.wsgi", DJANGO_SECRET_KEY="k")
    assert result.returncode != 0 and "FACESWAP_SESSION_SECRET is not set" in result.stderr
    result = run_manage("check", DJANGO_SECRET_KEY="k", FACESWAP_SESSION_SECRET=TEST_SESSION_SECRET)
    assert result.returncode == 0, result.stderr
    result = run_manage("check", DJANGO_SECRET_KEY="k", FACESWAP_SESSION_SECRET="short")
    assert result.returncode != 0 and "at least 32 characters" in result.stderr


def test_session_token_only_after_consent_and_the_relay_accepts_it(django_client):
    html = django_client.get("/", HTTP_HOST="page.test.invalid").content.decode()
    config = json.loads(re.search(r'<script id="client-config" type="application/json">(.*?)</script>', html, re.S)
                        .group(1))
    assert config["sessionTokenUrl"] == "/session-token"

    response = django_client.post("/session-token", data=json.dumps({"consent": True}),
                                  content_type="application/json", HTTP_HOST="page.test.invalid")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["expiresInS"] == 120.0
    relay = SessionTokenChecker(session_token_settings(environ={"FACESWAP_SESSION_SECRET": TEST_SESSION_SECRET}))
    assert relay.refusal(body["token"]) is None
    second = django_client.post("/session-token", data=json.dumps({"consent": True}),
                                content_type="application/json", HTTP_HOST="page.test.invalid").json()["token"]
    assert second != body["token"]  # one random session id per token

    for refused in ({"consent": False}, {}, "not json"):
        data = refused if isinstance(refused, str) else json.dumps(refused)
        response = django_client.post("/session-token", data=data, content_type="application/json",
                                      HTTP_HOST="page.test.invalid")
        assert response.status_code == 403 and "consent" in response.json()["error"]
    assert django_client.get("/session-token", HTTP_HOST="page.test.invalid").status_code == 405


def test_settings_refuse_without_secret_key_under_a_wsgi_server_too():
    result = run_python("import facedetect.wsgi", DJANGO_DEBUG="0", DJANGO_SECRET_KEY=None)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_and_debug_runs_without_a_key():
    shown = "from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)"
    result = run_manage("shell", "--no-imports", "-c", shown, DJANGO_SECRET_KEY="k", DJANGO_DEBUG=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['localhost', '127.0.0.1', '[::1]']"
    result = run_manage("shell", "--no-imports", "-c", shown, DJANGO_SECRET_KEY=None, DJANGO_DEBUG="1",
                        DJANGO_ALLOWED_HOSTS="a.test, b.test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['a.test', 'b.test']"


def test_bad_settings_values_are_named():
    result = run_manage("check", DJANGO_SECRET_KEY="k", DJANGO_DEBUG="maybe")
    assert result.returncode != 0 and "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr
    result = run_manage("check", DJANGO_SECRET_KEY="k", FACESWAP_WEBSOCKET_URL="http://relay/stream")
    assert result.returncode != 0 and "FACESWAP_WEBSOCKET_URL='http://relay/stream' is not a WebSocket URL" in result.stderr
