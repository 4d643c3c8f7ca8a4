"""WebSocket I/O on gevent-websocket connections: size-limited reads and proper close frames.

gevent-websocket's own ``WebSocket.receive()`` buffers whatever length a frame header announces
(up to 2**63 bytes) and unmasks the payload one byte at a time in Python (~10 ms for a 60 KB
camera frame). ``receive_message`` reads the same frames through the connection's stream but

- checks every frame header against ``max_bytes`` *before* reading its payload; an oversized
  message is read off the socket in 64 KB chunks and thrown away (never buffered), then
  ``MessageTooLarge`` is raised, so the caller can answer with an error and keep the connection;
- unmasks with one big-integer XOR (C speed).

Control frames: ping -> pong; a close frame is answered with a close frame echoing its code.

``close_websocket`` sends a close frame with a real status code: gevent-websocket 0.10.1's
``WebSocket.close(code, message)`` ignores ``code`` and sends the message text where the code
belongs (a client reads "origin not allowed" as close code 28530).
"""

from __future__ import annotations

import logging
import socket
import struct

from geventwebsocket.exceptions import ProtocolError, WebSocketError
from geventwebsocket.websocket import Header, WebSocket

from faceswap.errors import InputError

logger = logging.getLogger(__name__)

DISCARD_CHUNK_BYTES = 65536
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


class IdleTimeout(Exception):
    """No message arrived within the socket's timeout; the caller closes the connection."""


def set_socket_timeout(websocket: WebSocket, seconds: float | None) -> None:
    """Set the timeout of the socket under ``websocket`` (reads and writes); None: no timeout."""
    handler = getattr(getattr(websocket, "stream", None), "handler", None)
    sock = getattr(handler, "socket", None)
    if sock is not None:
        try:
            sock.settimeout(seconds)
        except OSError:
            pass


class MessageTooLarge(InputError):
    """A message exceeded the size limit; it was read and discarded, the connection is usable."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"the message is over the {limit}-byte limit "
                         f"(at least {size} bytes); it was discarded")
        self.size = size
        self.limit = limit


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the repeating 4-byte client ``mask`` (RFC 6455 section 5.3)."""
    length = len(payload)
    if not length:
        return b""
    key = (bytes(mask) * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


def _read_exactly(read, length: int) -> bytes:
    data = read(length)
    if len(data) != length:
        raise WebSocketError("unexpected end of stream inside a frame payload")
    return data


def _discard(read, length: int) -> None:
    while length > 0:
        chunk = read(min(length, DISCARD_CHUNK_BYTES))
        if not chunk:
            raise WebSocketError("unexpected end of stream inside a discarded frame payload")
        length -= len(chunk)


def receive_message(websocket: WebSocket, max_bytes: int) -> bytes | str | None:
    """Block until one whole message arrives: ``bytes`` (binary) or ``str`` (text).

    Returns None when the connection is closed (by the peer, a close frame or a protocol
    violation; the socket is closed as gevent-websocket would). Raises MessageTooLarge when the
    message is over ``max_bytes`` (the message has been consumed; keep reading), IdleTimeout when
    the socket's timeout (set_socket_timeout) passed without a complete message.
    """
    if websocket.closed:
        return None
    try:
        return _read_message(websocket, max_bytes)
    except MessageTooLarge:
        raise
    except socket.timeout:
        raise IdleTimeout() from None
    except UnicodeError:
        close_websocket(websocket, INVALID_PAYLOAD, "text message is not valid UTF-8")
    except ProtocolError as error:
        logger.info("websocket protocol error, closing: %s", error)
        close_websocket(websocket, PROTOCOL_ERROR, "protocol error")
    except (WebSocketError, socket.error, AttributeError, TypeError):
        # the peer went away (AttributeError/TypeError: the stream was torn down under us)
        websocket.closed = True
    return None


def _echoed_close_code(payload: bytes) -> int:
    """The status code to answer a peer's close frame with: its own, if it is a valid one."""
    if len(payload) < 2:
        return NORMAL_CLOSURE
    (code,) = struct.unpack("!H", payload[:2])
    valid = 1000 <= code <= 1003 or 1007 <= code <= 1011 or 3000 <= code <= 4999
    return code if valid else PROTOCOL_ERROR


def close_websocket(websocket: WebSocket, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
    """Send one close frame with ``code`` and ``reason`` (if the socket still takes it) and mark
    the connection closed; the server closes the socket when the handler returns."""
    if websocket.closed:
        return
    payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
    try:
        websocket.send_frame(payload, WebSocket.OPCODE_CLOSE)
    except (WebSocketError, OSError, AttributeError, TypeError):
        pass  # the peer is gone already
    websocket.closed = True


def _read_message(websocket: WebSocket, max_bytes: int) -> bytes | str | None:
    stream = websocket.stream
    read = stream.read
    opcode = None
    parts: list[bytes] = []
    size = 0
    oversized = False
    while True:
        header = Header.decode_header(stream)
        if header.flags:
            raise ProtocolError("reserved bits set in a frame header")
        if header.opcode in (WebSocket.OPCODE_PING, WebSocket.OPCODE_PONG, WebSocket.OPCODE_CLOSE):
            payload = _read_exactly(read, header.length) if header.length else b""
            if header.mask:
                payload = unmask(payload, header.mask)
            if header.opcode == WebSocket.OPCODE_PING:
                websocket.handle_ping(header, payload)
                continue
            if header.opcode == WebSocket.OPCODE_PONG:
                continue
            close_websocket(websocket, _echoed_close_code(payload))
            return None
        if header.opcode in (WebSocket.OPCODE_TEXT, WebSocket.OPCODE_BINARY):
            if opcode is not None:
                raise ProtocolError(f"a new message (opcode {header.opcode}) started inside a fragmented one")
            opcode = header.opcode
        elif header.opcode == WebSocket.OPCODE_CONTINUATION:
            if opcode is None:
                raise ProtocolError("a continuation frame arrived with no message to continue")
        else:
            raise ProtocolError(f"unknown opcode {header.opcode}")

        size += header.length
        if size > max_bytes:
            oversized = True
            parts.clear()
        if oversized:
            _discard(read, header.length)
        elif header.length:
            payload = _read_exactly(read, header.length)
            parts.append(unmask(payload, header.mask) if header.mask else payload)
        if header.fin:
            break

    if oversized:
        raise MessageTooLarge(size, max_bytes)
    message = b"".join(parts)
    if opcode == WebSocket.OPCODE_TEXT:
        return message.decode("utf-8")  # UnicodeError -> close 1007, as gevent-websocket does
    return message
