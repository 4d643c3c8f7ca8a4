"""The binary messages between browser and relay (docs/protocols.md, "Browser <-> relay").

Every message, in either direction, is one binary WebSocket message:

    u32 big-endian header length | UTF-8 JSON header (an object) | payload (JPEG/PNG bytes)

``parse_frame`` checks a browser message and returns a ``Frame``; anything wrong raises
``FrameError`` with one sentence for the client (and the frame's ``seq`` when it could be read, so
the error result can echo it). ``pack_message`` builds any message; ``result_message`` builds the
relay's answer. The relay never decodes the image: a payload that is not a picture is refused by
the prediction routine, per frame.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from faceswap.errors import InputError
from faceswap.json_limits import MAX_JSON_DEPTH, loads_limited
from websocket_server.prediction_client import DIRECTIONS

HEADER_LENGTH = struct.Struct(">I")
STATUSES = ("ok", "degraded", "error")
MAX_SEQ = 2 ** 53 - 1  # the largest integer a browser's JSON numbers hold exactly


class FrameError(InputError):
    """A message from the browser cannot be used; ``seq`` is its sequence number when known."""

    def __init__(self, message: str, seq: int | None = None):
        super().__init__(message)
        self.seq = seq


@dataclass
class Frame:
    """One camera frame from the browser. ``image`` is the raw payload (JPEG/PNG bytes, BGR
    once decoded by the routine); ``options`` is passed to the routine unchanged."""

    seq: int
    direction: str
    image: bytes
    options: dict[str, Any] = field(default_factory=dict)
    sent_at: float | None = None
    captured_at: float | None = None

    @property
    def frame_time_ms(self) -> float | None:
        """When the frame was taken on the browser's clock (ms): ``captured_at``, else ``sent_at``."""
        return self.captured_at if self.captured_at is not None else self.sent_at


def pack_message(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One wire message: u32 BE header length + compact UTF-8 JSON header + payload bytes."""
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return HEADER_LENGTH.pack(len(header_bytes)) + header_bytes + bytes(payload)


def unpack_message(message: bytes, max_header_bytes: int = 8192) -> tuple[dict[str, Any], bytes]:
    """Split a wire message into (header object, payload bytes); FrameError when malformed."""
    if isinstance(message, str):
        raise FrameError("text messages are not accepted: send binary messages "
                         "(u32 header length + JSON header + JPEG)")
    message = bytes(message)
    if len(message) < HEADER_LENGTH.size:
        raise FrameError(f"the message is {len(message)} bytes, too short for the 4-byte header length")
    (header_length,) = HEADER_LENGTH.unpack_from(message)
    if header_length > max_header_bytes:
        raise FrameError(f"the header length {header_length} exceeds the {max_header_bytes}-byte limit")
    if HEADER_LENGTH.size + header_length > len(message):
        raise FrameError(f"the header length {header_length} runs past the end of the "
                         f"{len(message)}-byte message")
    header_bytes = message[HEADER_LENGTH.size:HEADER_LENGTH.size + header_length]
    try:
        header = loads_limited(header_bytes.decode("utf-8"), MAX_JSON_DEPTH)
    except UnicodeDecodeError:
        raise FrameError("the header is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise FrameError(f"the header is not valid JSON ({error})") from None
    except ValueError as error:  # nested deeper than MAX_JSON_DEPTH levels
        raise FrameError(f"the header is not usable: {error}") from None
    if not isinstance(header, dict):
        raise FrameError(f"the header must be a JSON object, got {type(header).__name__}")
    return header, message[HEADER_LENGTH.size + header_length:]


def _is_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:   # an integer too large for a float (JSON allows 400 digits)
        return False


def parse_frame(message: bytes, max_header_bytes: int = 8192) -> Frame:
    """Check a browser message and return its Frame; FrameError (with ``seq`` if known) otherwise.

    Unknown header fields are ignored; ``options`` must be an object and is checked by the routine.
    """
    header, payload = unpack_message(message, max_header_bytes)
    seq = header.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise FrameError(f"`seq` must be an integer from 0 to {MAX_SEQ}, got {seq!r}"
                         if "seq" in header else "the header has no `seq` (frame sequence number)")
    direction = header.get("direction")
    if direction not in DIRECTIONS:
        raise FrameError(f"`direction` must be one of {', '.join(map(repr, DIRECTIONS))}, got {direction!r}", seq)
    options = header.get("options", {})
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise FrameError(f"`options` must be a JSON object, got {type(options).__name__}", seq)
    sent_at = header.get("sent_at")
    if sent_at is not None and not _is_number(sent_at):
        raise FrameError(f"`sent_at` must be a number (browser clock, ms), got {sent_at!r}", seq)
    captured_at = header.get("captured_at")
    if captured_at is not None and not _is_number(captured_at):
        raise FrameError(f"`captured_at` must be a number (browser clock, ms), got {captured_at!r}", seq)
    if not payload:
        raise FrameError("the frame has no image payload after the header", seq)
    return Frame(seq=seq, direction=direction, image=payload, options=options, sent_at=sent_at,
                 captured_at=captured_at)


def result_message(seq: int | None, status: str, payload: bytes = b"", *, reason: str | None = None,
                   faces: int = 0, timings_ms: dict[str, float] | None = None, dropped: int = 0,
                   sent_at: float | None = None) -> bytes:
    """The relay's answer to one message: a result header (docs/protocols.md) + JPEG payload
    (merged frame for ``ok``, the unchanged input for ``degraded``, nothing for ``error``)."""
    if status not in STATUSES:
        raise ValueError(f"unknown result status {status!r}")
    header = {"seq": seq, "status": status, "reason": reason, "faces": int(faces),
              "timings_ms": {str(name): round(float(value), 2) for name, value in (timings_ms or {}).items()
                             if _is_number(value)},
              "dropped": int(dropped), "sent_at": sent_at}
    return pack_message(header, payload)
