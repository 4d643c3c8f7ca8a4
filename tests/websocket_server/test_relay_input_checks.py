"""Hostile and broken input at the relay: every malformed message gets one ``error`` result and
the connection stays usable; oversized messages, floods and foreign Origins are refused; the
server never crashes. Real relay under gunicorn, real WebSocket clients; the echo routine sits
behind it (the routine's own refusals are tested against the real routine in test_relay_stream.py).
"""

from __future__ import annotations

import json
import struct
import time
import urllib.error
import urllib.request

import pytest
import websocket

from tests.websocket_server.conftest import RelayConnection, get_json, stream_url


@pytest.fixture(scope="module")
def echo_relay(module_servers):
    routine = module_servers.echo_routine()
    return module_servers.relay(routine.url, RELAY_ALLOWED_ORIGINS="https://faceswap.example.com,http://localhost:*,http://127.0.0.1:*")


def framed(header, payload: bytes = b"\xff\xd8\xff\xe0not-really") -> bytes:
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    return struct.pack(">I", len(header_bytes)) + header_bytes + payload


MALFORMED = {
    "text message": ("hello relay", False, None, "text messages are not accepted"),
    "empty binary message": (b"", True, None, "too short"),
    "short header": (b"\x00\x01", True, None, "too short"),
    "header length past the end": (struct.pack(">I", 5000) + b"{}", True, None, "runs past the end"),
    "huge header length": (struct.pack(">I", 2 ** 31) + b"{}", True, None, "exceeds the 8192-byte limit"),
    "bad JSON": (framed(b'{"seq": 1,'), True, None, "not valid JSON"),
    "JSON array header": (framed(b"[1, 2, 3]"), True, None, "must be a JSON object"),
    "missing seq": (framed({"direction": "a2b"}), True, None, "has no `seq`"),
    "negative seq": (framed({"seq": -4, "direction": "a2b"}), True, None, "`seq` must be an integer"),
    "missing direction": (framed({"seq": 41}), True, 41, "`direction` must be one of"),
    "invalid direction": (framed({"seq": 42, "direction": "up"}), True, 42, "`direction` must be one of"),
    "options not an object": (framed({"seq": 43, "direction": "a2b", "options": "fast"}), True, 43,
                              "`options` must be a JSON object"),
    "sent_at not a number": (framed({"seq": 44, "direction": "a2b", "sent_at": [1]}), True, 44,
                             "`sent_at` must be a number"),
    "no payload": (framed({"seq": 45, "direction": "a2b"}, b""), True, 45, "no image payload"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_message_gets_an_error_result_and_the_connection_stays_open(echo_relay, d9_frames, case):
    message, binary, expected_seq, fragment = MALFORMED[case]
    with RelayConnection(stream_url(echo_relay)) as connection:
        connection.send_raw(message, binary=binary)
        header, payload = connection.receive()
        assert header["status"] == "error"
        assert header["seq"] == expected_seq
        assert fragment.replace("`", "") in header["reason"].replace("`", ""), header["reason"]
        assert payload == b""
        connection.send_frame(1000, d9_frames[0])
        header, payload = connection.receive()
        assert header["seq"] == 1000 and header["status"] == "ok" and payload == d9_frames[0]


def test_oversized_message_is_discarded_with_an_error_and_the_connection_stays_open(echo_relay, d9_frames):
    with RelayConnection(stream_url(echo_relay)) as connection:
        big_jpeg = b"\xff\xd8\xff\xe0" + bytes(1_600_000)
        connection.send_frame(5, big_jpeg)
        header, payload = connection.receive()
        assert header["status"] == "error" and header["seq"] is None and payload == b""
        assert "over the 1500000-byte limit" in header["reason"]
        # Fragmented messages are limited as a whole, not per fragment.
        connection.socket.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, bytes(900_000)))
        connection.socket.send_frame(websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, bytes(900_000)))
        header, _ = connection.receive()
        assert header["status"] == "error" and "limit" in header["reason"]
        connection.send_frame(6, d9_frames[1])
        header, payload = connection.receive()
        assert header["seq"] == 6 and header["status"] == "ok" and payload == d9_frames[1]


def test_fragmented_message_under_the_limit_is_reassembled(echo_relay, d9_frames):
    message = framed({"seq": 9, "direction": "a2b"}, d9_frames[3])
    middle = len(message) // 2
    with RelayConnection(stream_url(echo_relay)) as connection:
        connection.socket.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, message[:middle]))
        connection.socket.ping(b"keepalive")
        connection.socket.send_frame(websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, message[middle:]))
        opcode, data = connection.socket.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_PONG:
            assert data == b"keepalive"
            header, payload = connection.receive()
        else:
            from websocket_server.frame_protocol import unpack_message
            header, payload = unpack_message(data)
        assert header["seq"] == 9 and header["status"] == "ok" and payload == d9_frames[3]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example:8000", "null",
                                    "https://faceswap.example.com:8443"])
def test_disallowed_origin_is_refused_at_the_handshake(echo_relay, origin):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(stream_url(echo_relay), origin=origin, timeout=10)
    assert refused.value.status_code == 403


@pytest.mark.parametrize("options", [{"origin": "https://faceswap.example.com"},
                                     {"origin": "http://localhost:5173"},
                                     {"suppress_origin": True}])
def test_allowed_origins_and_non_browser_clients_connect(echo_relay, d9_frames, options):
    with RelayConnection(stream_url(echo_relay), **options) as connection:
        connection.send_frame(1, d9_frames[0])
        assert connection.receive()[0]["status"] == "ok"


def test_missing_origin_can_be_refused_and_the_app_checks_origins_without_gunicorn_conf(servers, tmp_path):
    routine = servers.echo_routine()
    strict = servers.relay(routine.url, RELAY_ALLOW_MISSING_ORIGIN="0")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(stream_url(strict), suppress_origin=True, timeout=10)
    assert refused.value.status_code == 403

    empty_config = tmp_path / "empty.gunicorn.conf.py"
    empty_config.write_text("# no handshake check: the /stream route must refuse the origin itself\n")
    without_config = servers.relay(routine.url, extra_arguments=("-c", str(empty_config)))
    connection = websocket.create_connection(stream_url(without_config), origin="https://evil.example", timeout=10)
    try:
        opcode, data = connection.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert struct.unpack(">H", data[:2])[0] == 1008
    finally:
        connection.close()


def test_frame_rate_limit(servers, d9_frames):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, RELAY_MAX_FRAMES_PER_SECOND="5")
    sent = 12
    with RelayConnection(stream_url(relay)) as connection:
        for seq in range(sent):
            connection.send_frame(seq, d9_frames[seq % len(d9_frames)])
        limited, answered, dropped = [], [], 0
        # Every frame is accounted for: refused (error), answered (ok) or replaced (dropped).
        while len(limited) + len(answered) + dropped < sent:
            header, _ = connection.receive()
            if header["status"] == "error":
                assert "frame-rate limit of 5 frames per second" in header["reason"]
                limited.append(header["seq"])
            else:
                assert header["status"] == "ok"
                answered.append(header["seq"])
            dropped = header["dropped"]
        # A burst of one second's worth (5) passes; the bucket may refill by one while sending.
        assert sent - 5 - 1 <= len(limited) <= sent - 5, limited
        assert min(limited) >= 5 and limited == sorted(limited)
        allowed = sorted(set(range(sent)) - set(limited))
        assert allowed[-1] in answered and set(answered) <= set(allowed), (answered, limited)
        # The connection stays open; after a second there are tokens again.
        time.sleep(1.0)
        connection.send_frame(100, d9_frames[0])
        header, _ = connection.receive()
        assert header["seq"] == 100 and header["status"] == "ok", header


def test_close_handshake_echoes_the_clients_status_code(echo_relay):
    connection = websocket.create_connection(stream_url(echo_relay), timeout=10)
    try:
        connection.send_close(1001, b"page closed")
        opcode, data = connection.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert struct.unpack(">H", data[:2])[0] == 1001
    finally:
        connection.shutdown()


def test_plain_http_to_the_websocket_route_and_unknown_paths(echo_relay):
    with pytest.raises(urllib.error.HTTPError) as plain:
        urllib.request.urlopen(f"{echo_relay.url}/stream", timeout=10)
    assert plain.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{echo_relay.url}/nothing-here", timeout=10)
    assert missing.value.code == 404


def test_hostile_input_leaves_the_relay_up_with_no_session_and_no_traceback(echo_relay, d9_frames):
    """Self-contained (whatever ran before or not): every malformed message, an oversized one and a
    client vanishing mid-message, then the relay is up, holds no session and logged no traceback."""
    with RelayConnection(stream_url(echo_relay)) as connection:
        for case in sorted(MALFORMED):
            message, binary, _, _ = MALFORMED[case]
            connection.send_raw(message, binary=binary)
            assert connection.receive()[0]["status"] == "error", case
        connection.send_frame(1, b"\xff\xd8\xff\xe0" + bytes(1_600_000))
        assert connection.receive()[0]["status"] == "error"
    vanishing = RelayConnection(stream_url(echo_relay))
    vanishing.socket.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, b"\x00\x00"))
    vanishing.socket.sock.close()   # gone without a close frame, half-way through a message
    deadline = time.monotonic() + 10
    while True:
        status, health = get_json(echo_relay.url + "/healthz")
        if health["connections"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert echo_relay.process.poll() is None
    assert status == 200 and health["relay"] == "ok" and health["connections"] == 0, health
    log = echo_relay.log_text()
    assert "Traceback" not in log and "ERROR" not in log, log
