"""Session tokens at the real relay's handshake (gunicorn + flask_sockets.worker on 127.0.0.1, a real
WebSocket client): a token issued by the page's own code opens a stream; a missing, expired or
forged one is closed at once with 4401, 4402 or 4403 before any frame reaches the routine."""

from __future__ import annotations

import importlib.util
import secrets
import struct
import time

import pytest
import websocket
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from faceswap.errors import FaceswapError
from tests.websocket_server.conftest import RelayConnection, get_json, stream_url
from tests.websocket_server.server_processes import REPO_ROOT
from websocket_server.session_token import (SALT, TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_MISSING, SessionTokenChecker,
                                            session_token_settings)

SECRET = secrets.token_urlsafe(32)


def _page_token_module():
    """client_app/facedetect/session_token.py, the code the page issues tokens with."""
    path = REPO_ROOT / "client_app" / "facedetect" / "session_token.py"
    spec = importlib.util.spec_from_file_location("page_session_token", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = _page_token_module()


class _IssuedTenMinutesAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 600


def expired_token(secret: str) -> str:
    """A correctly signed token whose timestamp is ten minutes old (max age is 120 s)."""
    return URLSafeTimedSerializer(secret, salt=SALT, signer=_IssuedTenMinutesAgo).dumps(
        {"v": 1, "sid": "0" * 32, "consent": True})


@pytest.fixture(scope="module")
def token_relay(module_servers):
    routine = module_servers.echo_routine()
    return module_servers.relay(routine.url, FACESWAP_SESSION_SECRET=SECRET)


def close_code_and_reason(url: str) -> tuple[int, str]:
    connection = websocket.create_connection(url, timeout=10)
    try:
        opcode, data = connection.recv_data(control_frame=True)
    finally:
        connection.close()
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    return struct.unpack(">H", data[:2])[0], data[2:].decode("utf-8")


def test_the_page_and_the_relay_agree_on_the_salt():
    assert PAGE.SALT == SALT


def test_a_token_issued_by_the_page_opens_a_stream(token_relay, d9_frames):
    token = PAGE.issue_session_token(SECRET)
    with RelayConnection(f"{stream_url(token_relay)}?session={token}") as connection:
        connection.send_frame(1, d9_frames[0])
        header, payload = connection.receive()
    assert header["seq"] == 1 and header["status"] in ("ok", "no_face") and payload


def test_a_stream_without_a_token_is_closed_with_4401(token_relay):
    code, reason = close_code_and_reason(stream_url(token_relay))
    assert code == TOKEN_MISSING == 4401
    assert "session token missing" in reason


def test_an_expired_token_is_closed_with_4402(token_relay):
    code, reason = close_code_and_reason(f"{stream_url(token_relay)}?session={expired_token(SECRET)}")
    assert code == TOKEN_EXPIRED == 4402
    assert "expired" in reason


@pytest.mark.parametrize("forgery", ["other secret", "edited payload", "garbage"])
def test_a_forged_token_is_closed_with_4403(token_relay, forgery):
    if forgery == "other secret":
        token = PAGE.issue_session_token(secrets.token_urlsafe(32))
    elif forgery == "edited payload":
        genuine = PAGE.issue_session_token(SECRET)
        token = ("A" if genuine[0] != "A" else "B") + genuine[1:]
    else:
        token = "not-a-token"
    code, reason = close_code_and_reason(f"{stream_url(token_relay)}?session={token}")
    assert code == TOKEN_INVALID == 4403
    assert reason == "session token invalid"


def test_refused_streams_leave_no_session_open_and_the_relay_up(token_relay):
    for _ in range(3):
        close_code_and_reason(stream_url(token_relay))
    status, health = get_json(token_relay.url + "/livez")
    assert status == 200 and health["connections"] == 0


def test_without_a_secret_no_token_is_needed_and_weak_secrets_are_refused():
    assert SessionTokenChecker(session_token_settings(environ={})).refusal(None) is None
    with pytest.raises(FaceswapError, match="at least 32 characters"):
        session_token_settings(environ={"FACESWAP_SESSION_SECRET": "short"})
    assert "set" in repr(session_token_settings(environ={"FACESWAP_SESSION_SECRET": SECRET}))
    assert SECRET not in repr(session_token_settings(environ={"FACESWAP_SESSION_SECRET": SECRET}))
