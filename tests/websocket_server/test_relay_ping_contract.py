"""The relay answers every ping with a pong carrying the ping's payload (RFC 6455 5.5.2-5.5.3), between
messages and inside a fragmented one, and the stream goes on. Real relay under gunicorn, real
WebSocket client, the echo routine behind it."""

from __future__ import annotations

import websocket

from tests.websocket_server.conftest import RelayConnection, stream_url
from websocket_server.frame_protocol import pack_message


def next_control_or_data(connection: RelayConnection) -> tuple[int, bytes]:
    """The next frame the relay sends, control frames included."""
    return connection.socket.recv_data(control_frame=True)


def test_pings_are_answered_with_their_payload_and_the_stream_goes_on(module_servers, d9_frames):
    relay = module_servers.relay(module_servers.echo_routine().url)
    with RelayConnection(stream_url(relay), timeout=20) as connection:
        for payload in (b"keepalive-1", b"", bytes(range(125))):   # 125 bytes: the largest control payload
            connection.socket.ping(payload)
            opcode, data = next_control_or_data(connection)
            assert opcode == websocket.ABNF.OPCODE_PONG, f"expected a pong, got opcode {opcode}"
            assert data == payload

        # A ping between the two halves of a fragmented frame message is answered at once.
        message = pack_message({"seq": 7, "direction": "a2b"}, d9_frames[2])
        middle = len(message) // 2
        connection.socket.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, message[:middle]))
        connection.socket.ping(b"mid-message")
        opcode, data = next_control_or_data(connection)
        assert (opcode, data) == (websocket.ABNF.OPCODE_PONG, b"mid-message")
        connection.socket.send_frame(websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, message[middle:]))
        header, payload = connection.receive()
        assert header["seq"] == 7 and header["status"] == "ok" and payload == d9_frames[2]
