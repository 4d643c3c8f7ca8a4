"""The browser <-> relay message format at its edges (websocket_server/frame_protocol.py,
docs/protocols.md): exact bytes of a message, each limit at and just past its boundary, and the
exact sentence a client gets for each defect. Written against mutants the mutation run found
surviving (docs/testing.md)."""

from __future__ import annotations

import json
import struct

import pytest

from faceswap.json_limits import MAX_JSON_DEPTH
from websocket_server.frame_protocol import (MAX_SEQ, FrameError, pack_message, parse_frame, result_message,
                                             unpack_message)

JPEG = b"\xff\xd8\xff\xe0jpeg"


def raw(header_bytes: bytes, payload: bytes = JPEG) -> bytes:
    return struct.pack(">I", len(header_bytes)) + header_bytes + payload


def error_of(call, *args, **kwargs) -> FrameError:
    with pytest.raises(FrameError) as raised:
        call(*args, **kwargs)
    return raised.value


def test_a_message_is_compact_utf8_json_byte_for_byte():
    message = pack_message({"seq": 3, "reason": "visage trouvé ✓"}, b"PAY")
    header = '{"seq":3,"reason":"visage trouvé ✓"}'.encode("utf-8")
    assert message == struct.pack(">I", len(header)) + header + b"PAY"
    assert pack_message({}) == b"\x00\x00\x00\x02{}"


def test_text_messages_are_refused_with_the_format_to_use():
    assert str(error_of(unpack_message, "hello")) == \
        "text messages are not accepted: send binary messages (u32 header length + JSON header + JPEG)"


def test_the_header_length_field_and_limit_at_their_boundaries():
    assert str(error_of(unpack_message, b"\x00\x00\x02")) == \
        "the message is 3 bytes, too short for the 4-byte header length"
    # Exactly the 4 length bytes: a zero-length header, which is not JSON (not "too short").
    assert "not valid JSON" in str(error_of(unpack_message, b"\x00\x00\x00\x00"))
    header = json.dumps({"seq": 1, "pad": "x" * 20}).encode()
    assert unpack_message(raw(header), max_header_bytes=len(header)) == (json.loads(header), JPEG)
    assert str(error_of(unpack_message, raw(header), max_header_bytes=len(header) - 1)) == \
        f"the header length {len(header)} exceeds the {len(header) - 1}-byte limit"
    # parse_frame passes its own limit on.
    frame_header = json.dumps({"seq": 1, "direction": "a2b"}).encode()
    assert parse_frame(raw(frame_header), max_header_bytes=len(frame_header)).seq == 1
    assert "exceeds the" in str(error_of(parse_frame, raw(frame_header), max_header_bytes=len(frame_header) - 1))
    # The default limit is the documented 8192 bytes, for unpack_message and parse_frame alike.
    exactly = b'{"seq":1,"direction":"a2b","pad":"' + b"x" * (8192 - 36) + b'"}'
    assert len(exactly) == 8192 and parse_frame(raw(exactly)).seq == 1
    for call in (unpack_message, parse_frame):
        assert "exceeds the 8192-byte limit" in str(error_of(call, raw(exactly[:-2] + b'x"}')))
    assert str(error_of(unpack_message, struct.pack(">I", 10) + b"{}")) == \
        "the header length 10 runs past the end of the 6-byte message"


def test_each_unusable_header_gets_its_sentence():
    assert str(error_of(unpack_message, raw(b'{"a":"\xff"}'))) == "the header is not UTF-8 text"
    deep = ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)).encode()
    message = str(error_of(unpack_message, raw(b'{"x":' + deep + b"}")))
    assert message.startswith("the header is not usable: ") and len(message) > len("the header is not usable: ")
    shallow = ("[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)).encode()
    assert unpack_message(raw(b'{"x":' + shallow + b"}"))[0]["x"] is not None
    assert str(error_of(unpack_message, raw(b"[1, 2]"))) == "the header must be a JSON object, got list"
    assert str(error_of(unpack_message, raw(b'"text"'))) == "the header must be a JSON object, got str"


def test_seq_range_ends_are_accepted_and_each_field_error_names_the_field():
    def frame(header: dict, payload: bytes = JPEG):
        return parse_frame(raw(json.dumps(header).encode(), payload))

    assert frame({"seq": 0, "direction": "a2b"}).seq == 0
    assert frame({"seq": MAX_SEQ, "direction": "b2a"}).seq == MAX_SEQ == 2 ** 53 - 1
    assert str(error_of(frame, {"seq": MAX_SEQ + 1, "direction": "a2b"})) == \
        f"`seq` must be an integer from 0 to {MAX_SEQ}, got {MAX_SEQ + 1}"
    assert str(error_of(frame, {"direction": "a2b"})) == "the header has no `seq` (frame sequence number)"
    error = error_of(frame, {"seq": 5, "direction": "up"})
    assert (str(error), error.seq) == ("`direction` must be one of 'a2b', 'b2a', got 'up'", 5)
    error = error_of(frame, {"seq": 6, "direction": "a2b", "options": "fast"})
    assert (str(error), error.seq) == ("`options` must be a JSON object, got str", 6)
    error = error_of(frame, {"seq": 7, "direction": "a2b"}, b"")
    assert (str(error), error.seq) == ("the frame has no image payload after the header", 7)
    # No options, or null options: an empty object for the routine.
    assert frame({"seq": 8, "direction": "a2b"}).options == {}
    assert frame({"seq": 9, "direction": "a2b", "options": None}).options == {}


def test_a_result_header_has_every_field_with_zero_defaults():
    header, payload = unpack_message(result_message(4, "error", reason="bad frame"))
    assert header == {"seq": 4, "status": "error", "reason": "bad frame", "faces": 0, "timings_ms": {},
                      "dropped": 0, "sent_at": None}
    assert payload == b""
    with pytest.raises(ValueError, match="unknown result status 'fine'"):
        result_message(1, "fine")
