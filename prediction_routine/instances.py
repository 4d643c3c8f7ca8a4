"""The predict instance format (docs/protocols.md, "Relay <-> prediction routine"): parse one
instance into checked fields, and build one prediction.

INSTANCE   {"image": {"b64": JPEG/PNG}, "direction": "a2b"|"b2a", "stream_id": str (optional),
            "frame_time_ms": number (optional), "options": {"color": ..., "blend": ..., "mark": bool} (optional)}
PREDICTION {"image": {"b64": JPEG} | null, "faces": int, "timings_ms": {...}, "error": str | null}

Every problem with an instance raises ``InstanceError`` with one sentence saying what is wrong;
the predictor turns it into that instance's ``error`` and the rest of the batch goes on.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

from faceswap.errors import InputError
from faceswap.json_limits import ONLINE_PREDICTION_LIMIT_BYTES
from faceswap.swapping.blending import BLEND_MODES
from faceswap.swapping.color_transfer import COLOR_MODES
from faceswap.swapping.frame_swapper import DIRECTIONS

TIMING_STAGES = ("decode", "detect", "align", "model", "blend", "encode", "total")


class InstanceError(InputError):
    """One instance of a batch cannot be used; only that instance fails."""


@dataclass
class FrameOptions:
    """Per-frame options a client chose; None keeps the routine's SwapSettings default."""

    color: str | None = None
    blend: str | None = None
    mark: bool | None = None


def decode_b64_image(instance: Any, max_image_bytes: int = ONLINE_PREDICTION_LIMIT_BYTES) -> bytes:
    """The image bytes of an instance (``{"image": {"b64": ...}}``); InstanceError when absent or bad."""
    if not isinstance(instance, dict):
        raise InstanceError(f"the instance is a {type(instance).__name__}, expected a JSON object "
                            'like {"image": {"b64": ...}, "direction": "a2b"}')
    if "image" not in instance:
        raise InstanceError('the instance has no "image" field (expected {"image": {"b64": "<JPEG or PNG>"}})')
    image = instance["image"]
    if not isinstance(image, dict) or not isinstance(image.get("b64"), str):
        raise InstanceError('"image" must be an object {"b64": "<base64 JPEG or PNG>"}')
    text = image["b64"]
    if len(text) * 3 // 4 > max_image_bytes + 3:
        raise InstanceError(f"the image is about {len(text) * 3 // 4} bytes, over the {max_image_bytes}-byte "
                            "(1.5 MB) online-prediction limit")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InstanceError('"image.b64" is not valid base64') from None
    if len(data) > max_image_bytes:
        raise InstanceError(f"the image is {len(data)} bytes, over the {max_image_bytes}-byte (1.5 MB) "
                            "online-prediction limit")
    if not data:
        raise InstanceError('"image.b64" is empty')
    return data


def parse_options(raw: Any) -> FrameOptions:
    """FrameOptions from the instance's ``options`` object; InstanceError naming a bad key or value."""
    options = FrameOptions()
    if raw is None:
        return options
    if not isinstance(raw, dict):
        raise InstanceError('"options" must be an object like {"color": "reinhard", "blend": "feather", "mark": true}')
    unknown = sorted(set(raw) - {"color", "blend", "mark"})
    if unknown:
        raise InstanceError(f'unknown option {unknown[0]!r} (known: color, blend, mark)')
    if "color" in raw:
        if raw["color"] not in COLOR_MODES:
            raise InstanceError(f'option "color" is {raw["color"]!r}; expected one of {", ".join(COLOR_MODES)}')
        options.color = raw["color"]
    if "blend" in raw:
        if raw["blend"] not in BLEND_MODES:
            raise InstanceError(f'option "blend" is {raw["blend"]!r}; expected one of {", ".join(BLEND_MODES)}')
        options.blend = raw["blend"]
    if "mark" in raw:
        if not isinstance(raw["mark"], bool):
            raise InstanceError(f'option "mark" is {raw["mark"]!r}; expected true or false')
        options.mark = raw["mark"]
    return options


def parse_frame_time(instance: dict) -> float | None:
    """When the instance's frame was taken, in seconds, from its ``frame_time_ms`` (milliseconds on
    the sender's own clock, e.g. the page's ``performance.now()`` as it draws the camera picture;
    the frames of one stream must all carry it, on one clock), or None when the field is absent. A
    stream's landmark smoothing and motion blur then measure the time between frames as they were
    taken, not as they arrived (and a step under 1 ms or backwards starts the stream's followed
    state over). InstanceError (its message cut to 200 characters) when it is not a finite number."""
    value = instance.get("frame_time_ms")
    if value is None:
        return None
    try:
        finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    except OverflowError:   # an integer too large for a float (JSON allows 400 digits)
        finite = False
    if not finite:
        raise InstanceError(f'"frame_time_ms" must be a finite number of milliseconds, not {value!r}'[:200])
    return float(value) / 1000.0


def parse_fields(instance: dict) -> tuple[str, str | None, FrameOptions]:
    """(direction, stream_id, options) of an instance whose image was already read."""
    direction = instance.get("direction")
    if direction is None:
        raise InstanceError('the instance has no "direction" field (expected "a2b" or "b2a")')
    if direction not in DIRECTIONS:
        raise InstanceError(f'unknown direction {direction!r}; expected "a2b" or "b2a"')
    stream_id = instance.get("stream_id")
    if stream_id is not None and not isinstance(stream_id, (str, int)):
        raise InstanceError('"stream_id" must be a string')
    return direction, (None if stream_id is None else str(stream_id)), parse_options(instance.get("options"))


def prediction(image_bytes: bytes | None, faces: int, timings_ms: dict[str, float], error: str | None) -> dict:
    """One PREDICTION object; ``image_bytes`` None gives ``"image": null``; every stage of
    TIMING_STAGES is present (0.0 for a stage that did not run)."""
    return {
        "image": None if image_bytes is None else {"b64": base64.b64encode(image_bytes).decode("ascii")},
        "faces": int(faces),
        "timings_ms": {name: round(float(timings_ms.get(name, 0.0)), 3) for name in TIMING_STAGES},
        "error": error,
    }
