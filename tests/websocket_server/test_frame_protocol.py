"""The binary browser <-> relay messages: exact byte layout, and one clear FrameError per defect."""

from __future__ import annotations

import json
import struct

import pytest

from websocket_server.frame_protocol import (FrameError, pack_message, parse_frame, result_message,
                                             unpack_message)


def raw_message(header, payload: bytes = b"\xff\xd8\xff\xe0jpeg") -> bytes:
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    return struct.pack(">I", len(header_bytes)) + header_bytes + payload


def test_pack_message_layout_is_u32_big_endian_length_json_then_payload():
    message = pack_message({"seq": 7, "status": "ok"}, b"JPEGDATA")
    (length,) = struct.unpack(">I", message[:4])
    assert json.loads(message[4:4 + length].decode("utf-8")) == {"seq": 7, "status": "ok"}
    assert message[4 + length:] == b"JPEGDATA"


def test_parse_frame_reads_every_field(still_path):
    jpeg = still_path("s0").read_bytes()
    frame = parse_frame(raw_message({"seq": 3, "direction": "b2a", "options": {"color": "none"},
                                     "sent_at": 12.5, "unknown_field": "ignored"}, jpeg))
    assert (frame.seq, frame.direction, frame.options, frame.sent_at) == (3, "b2a", {"color": "none"}, 12.5)
    assert frame.image == jpeg


def test_parse_frame_defaults_options_and_sent_at():
    frame = parse_frame(raw_message({"seq": 0, "direction": "a2b"}))
    assert frame.options == {} and frame.sent_at is None and frame.captured_at is None
    assert frame.frame_time_ms is None


def test_the_frame_time_is_when_the_picture_was_captured_else_when_it_was_sent():
    both = parse_frame(raw_message({"seq": 1, "direction": "a2b", "sent_at": 120.0, "captured_at": 95.5}))
    assert (both.sent_at, both.captured_at, both.frame_time_ms) == (120.0, 95.5, 95.5)
    sent_only = parse_frame(raw_message({"seq": 2, "direction": "a2b", "sent_at": 120.0}))
    assert sent_only.frame_time_ms == 120.0


@pytest.mark.parametrize("message, fragment", [
    ("a text message", "text messages are not accepted"),
    (b"\x00\x00", "too short"),
    (struct.pack(">I", 100) + b"{}", "runs past the end"),
    (struct.pack(">I", 9000) + b"{}" * 4500, "exceeds the 8192-byte limit"),
    (raw_message(b"{not json"), "not valid JSON"),
    (raw_message(b"\xff\xfe"), "not UTF-8"),
    (raw_message([1, 2]), "must be a JSON object"),
    (raw_message({"direction": "a2b"}), "has no `seq`"),
    (raw_message({"seq": -1, "direction": "a2b"}), "`seq` must be an integer"),
    (raw_message({"seq": "1", "direction": "a2b"}), "`seq` must be an integer"),
    (raw_message({"seq": True, "direction": "a2b"}), "`seq` must be an integer"),
    (raw_message({"seq": 1.5, "direction": "a2b"}), "`seq` must be an integer"),
])
def test_malformed_messages_without_a_usable_seq(message, fragment):
    with pytest.raises(FrameError, match=fragment.replace("`", ".")) as caught:
        parse_frame(message)
    assert caught.value.seq is None


@pytest.mark.parametrize("header, payload, fragment", [
    ({"seq": 5}, b"x", "`direction` must be one of"),
    ({"seq": 5, "direction": "sideways"}, b"x", "`direction` must be one of"),
    ({"seq": 5, "direction": "a2b", "options": ["mark"]}, b"x", "`options` must be a JSON object"),
    ({"seq": 5, "direction": "a2b", "sent_at": "now"}, b"x", "`sent_at` must be a number"),
    ({"seq": 5, "direction": "a2b", "captured_at": [1]}, b"x", "`captured_at` must be a number"),
    ({"seq": 5, "direction": "a2b", "captured_at": 10 ** 400}, b"x", "`captured_at` must be a number"),
    ({"seq": 5, "direction": "a2b", "sent_at": 10 ** 400}, b"x", "`sent_at` must be a number"),
    ({"seq": 5, "direction": "a2b"}, b"", "no image payload"),
])
def test_malformed_frames_keep_their_seq(header, payload, fragment):
    with pytest.raises(FrameError, match=fragment.replace("`", ".")) as caught:
        parse_frame(raw_message(header, payload))
    assert caught.value.seq == 5


def test_result_message_round_trips_and_keeps_only_numeric_timings():
    message = result_message(9, "degraded", b"frame", reason="routine down", faces=0,
                             timings_ms={"relay": 1.234567, "bogus": "x"}, dropped=2, sent_at=100.0)
    header, payload = unpack_message(message)
    assert header == {"seq": 9, "status": "degraded", "reason": "routine down", "faces": 0,
                      "timings_ms": {"relay": 1.23}, "dropped": 2, "sent_at": 100.0}
    assert payload == b"frame"


def test_result_message_refuses_an_unknown_status():
    with pytest.raises(ValueError):
        result_message(1, "fine")
