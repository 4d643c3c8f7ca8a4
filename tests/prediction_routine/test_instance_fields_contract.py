"""The predict instance format (prediction_routine/instances.py, docs/protocols.md): every field of an
instance is checked with one sentence naming what is wrong, and a prediction always has the same
shape. Pure functions, so this is also the fast test selection of the mutation run (docs/testing.md)."""

from __future__ import annotations

import base64

import pytest

from faceswap.errors import InputError
from faceswap.swapping.blending import BLEND_MODES
from faceswap.swapping.color_transfer import COLOR_MODES
from prediction_routine.instances import (ONLINE_PREDICTION_LIMIT_BYTES, TIMING_STAGES, FrameOptions, InstanceError,
                                          decode_b64_image, parse_fields, parse_frame_time, parse_options,
                                          prediction)

JPEG = b"\xff\xd8\xff\xe0 not decoded here"


def b64(data: bytes) -> dict:
    return {"image": {"b64": base64.b64encode(data).decode("ascii")}}


def test_the_image_bytes_come_back_exactly():
    assert decode_b64_image(b64(JPEG)) == JPEG
    assert issubclass(InstanceError, InputError)


@pytest.mark.parametrize("instance,message", [
    ([1, 2], 'the instance is a list, expected a JSON object like {"image": {"b64": ...}, "direction": "a2b"}'),
    ("text", 'the instance is a str, expected a JSON object like {"image": {"b64": ...}, "direction": "a2b"}'),
    ({}, 'the instance has no "image" field (expected {"image": {"b64": "<JPEG or PNG>"}})'),
    ({"image": "abc"}, '"image" must be an object {"b64": "<base64 JPEG or PNG>"}'),
    ({"image": {"b64": 12}}, '"image" must be an object {"b64": "<base64 JPEG or PNG>"}'),
    ({"image": {}}, '"image" must be an object {"b64": "<base64 JPEG or PNG>"}'),
    ({"image": {"b64": "not base64!"}}, '"image.b64" is not valid base64'),
    ({"image": {"b64": "QUJD!"}}, '"image.b64" is not valid base64'),   # strictly: no skipped characters
    ({"image": {"b64": "QUJ"}}, '"image.b64" is not valid base64'),
    ({"image": {"b64": ""}}, '"image.b64" is empty'),
])
def test_a_bad_image_field_is_named(instance, message):
    with pytest.raises(InstanceError) as raised:
        decode_b64_image(instance)
    assert str(raised.value) == message


def test_the_size_limit_is_exact_and_checked_before_decoding():
    limit = 30
    assert decode_b64_image(b64(bytes(limit)), limit) == bytes(limit)
    with pytest.raises(InstanceError) as raised:
        decode_b64_image(b64(bytes(limit + 1)), limit)
    assert str(raised.value) == "the image is 31 bytes, over the 30-byte (1.5 MB) online-prediction limit"
    # Far over: refused from the text's length (3/4 of it, with 3 bytes of slack for padding) before
    # any decoding, even when the text is not base64; up to the slack it is decoded (and refused as such).
    for length in (44, 45):   # 33 bytes: 30 + 3
        with pytest.raises(InstanceError, match="is not valid base64"):
            decode_b64_image({"image": {"b64": "!" * length}}, limit)
    with pytest.raises(InstanceError) as raised:
        decode_b64_image({"image": {"b64": "!" * 46}}, limit)
    assert str(raised.value) == "the image is about 34 bytes, over the 30-byte (1.5 MB) online-prediction limit"
    assert ONLINE_PREDICTION_LIMIT_BYTES == 1_572_864
    big = bytes(ONLINE_PREDICTION_LIMIT_BYTES)
    assert decode_b64_image(b64(big)) == big
    with pytest.raises(InstanceError, match="over the 1572864-byte"):
        decode_b64_image(b64(big + b"x"))


def test_options_default_to_none_and_take_every_known_value():
    assert parse_options(None) == FrameOptions(None, None, None)
    assert parse_options({}) == FrameOptions(None, None, None)
    for color in COLOR_MODES:
        assert parse_options({"color": color}) == FrameOptions(color=color)
    for blend in BLEND_MODES:
        assert parse_options({"blend": blend}) == FrameOptions(blend=blend)
    assert parse_options({"mark": False}) == FrameOptions(mark=False)
    assert parse_options({"mark": True, "color": COLOR_MODES[0], "blend": BLEND_MODES[-1]}) == \
        FrameOptions(COLOR_MODES[0], BLEND_MODES[-1], True)


@pytest.mark.parametrize("raw,message", [
    ("fast", '"options" must be an object like {"color": "reinhard", "blend": "feather", "mark": true}'),
    ([], '"options" must be an object'),
    ({"zzz": 1, "speed": 2}, "unknown option 'speed' (known: color, blend, mark)"),
    ({"color": "sepia"}, "option \"color\" is 'sepia'; expected one of " + ", ".join(COLOR_MODES)),
    ({"color": None}, "option \"color\" is None; expected one of"),
    ({"blend": "smudge"}, "option \"blend\" is 'smudge'; expected one of " + ", ".join(BLEND_MODES)),
    ({"mark": "no"}, "option \"mark\" is 'no'; expected true or false"),
    ({"mark": 0}, "option \"mark\" is 0; expected true or false"),
])
def test_a_bad_option_is_named(raw, message):
    with pytest.raises(InstanceError) as raised:
        parse_options(raw)
    assert str(raised.value) == message or str(raised.value).startswith(message), str(raised.value)


def test_fields_direction_stream_and_options():
    assert parse_fields({"direction": "a2b"}) == ("a2b", None, FrameOptions())
    assert parse_fields({"direction": "b2a", "stream_id": "cam-1", "options": {"mark": True}}) == \
        ("b2a", "cam-1", FrameOptions(mark=True))
    assert parse_fields({"direction": "a2b", "stream_id": 42}) == ("a2b", "42", FrameOptions())
    assert parse_fields({"direction": "a2b", "stream_id": ""}) == ("a2b", "", FrameOptions())


@pytest.mark.parametrize("instance,message", [
    ({}, 'the instance has no "direction" field (expected "a2b" or "b2a")'),
    ({"direction": None}, 'the instance has no "direction" field'),
    ({"direction": "up"}, "unknown direction 'up'; expected \"a2b\" or \"b2a\""),
    ({"direction": "a2b", "stream_id": ["a"]}, '"stream_id" must be a string'),
    ({"direction": "a2b", "stream_id": 1.5}, '"stream_id" must be a string'),
    ({"direction": "a2b", "options": {"color": "sepia"}}, 'option "color" is'),
])
def test_bad_fields_are_named(instance, message):
    with pytest.raises(InstanceError) as raised:
        parse_fields(instance)
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_prediction_has_every_stage_rounded_and_the_image_in_base64():
    answer = prediction(JPEG, 2.0, {"detect": 1.23456, "total": 9.87654321, "extra": 5.0}, None)
    assert answer == {"image": {"b64": base64.b64encode(JPEG).decode("ascii")}, "faces": 2,
                      "timings_ms": {"decode": 0.0, "detect": 1.235, "align": 0.0, "model": 0.0, "blend": 0.0,
                                     "encode": 0.0, "total": 9.877},
                      "error": None}
    assert list(answer["timings_ms"]) == list(TIMING_STAGES)
    assert type(answer["faces"]) is int
    failed = prediction(None, 0, {}, "the image is broken")
    assert failed == {"image": None, "faces": 0, "timings_ms": dict.fromkeys(TIMING_STAGES, 0.0),
                      "error": "the image is broken"}


def test_frame_time_is_read_in_seconds_and_refused_with_one_sentence():
    assert parse_frame_time({}) is None and parse_frame_time({"frame_time_ms": None}) is None
    assert parse_frame_time({"frame_time_ms": 1500}) == 1.5
    assert parse_frame_time({"frame_time_ms": 12.5}) == pytest.approx(0.0125)
    for value in (True, "12", float("nan"), float("inf"), [1]):
        with pytest.raises(InstanceError) as raised:
            parse_frame_time({"frame_time_ms": value})
        assert str(raised.value) == f'"frame_time_ms" must be a finite number of milliseconds, not {value!r}'
    with pytest.raises(InstanceError) as raised:       # JSON allows it; a float does not hold it
        parse_frame_time({"frame_time_ms": 10 ** 400})
    assert str(raised.value).startswith('"frame_time_ms" must be a finite number of milliseconds, not 1000')
    assert len(str(raised.value)) <= 200
