"""Frames going through the whole chain: WebSocket client -> relay (gunicorn, Flask-Sockets
worker) -> the real local prediction server with the real tiny test model -> back."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from faceswap.faces.detection import no_face_reason
from faceswap.provenance.frame_metadata import DIGITAL_SOURCE_TYPE, read_digital_source_type
from tests.websocket_server.conftest import RelayConnection, get_json, stream_url
from websocket_server.routine_gateway import MAX_NO_FACE_REASON_CHARS, NO_FACE_REASON
from websocket_server.routine_gateway import no_face_reason as gateway_no_face_reason

ROUTINE_STAGES = {"decode", "detect", "align", "model", "blend", "encode", "total"}


def decoded(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the payload is not a decodable image"
    return image


def test_frames_go_through_the_real_routine(relay_to_real_routine, d9_frames):
    with RelayConnection(stream_url(relay_to_real_routine)) as connection:
        for seq, frame in enumerate(d9_frames[:6]):
            connection.send_frame(seq, frame, sent_at=1000.0 + seq, options={"color": "reinhard"})
            header, payload = connection.receive()
            assert header["seq"] == seq and header["sent_at"] == 1000.0 + seq
            assert header["status"] == "ok", header
            assert header["faces"] == 1 and header["reason"] is None, header
            assert ROUTINE_STAGES | {"predict_call", "wait", "relay"} <= set(header["timings_ms"])
            assert header["timings_ms"]["relay"] >= header["timings_ms"]["predict_call"] >= \
                header["timings_ms"]["total"] > 0
            assert header["dropped"] == 0
            merged, original = decoded(payload), decoded(frame)
            assert merged.shape == original.shape
            # Machine-readable "AI-generated": the IPTC digital source type in the JPEG's XMP.
            assert read_digital_source_type(payload) == DIGITAL_SOURCE_TYPE
            # The face was replaced: the merged frame differs from the input, mostly inside the face.
            difference = np.abs(merged.astype(np.int16) - original.astype(np.int16)).mean(axis=2)
            assert difference.max() > 40
    status, health = get_json(relay_to_real_routine.url + "/healthz")
    assert status == 200 and health["status"] == "ok" and health["prediction_routine"]["available"] is True


def test_two_clients_at_once(relay_to_real_routine, d9_frames):
    results: dict[str, list[dict]] = {"first": [], "second": []}
    problems: list[BaseException] = []

    def stream(name: str, frames: list[bytes], direction: str) -> None:
        try:
            with RelayConnection(stream_url(relay_to_real_routine)) as connection:
                for seq, frame in enumerate(frames):
                    connection.send_frame(seq, frame, direction=direction)
                    header, payload = connection.receive()
                    decoded(payload)
                    results[name].append(header)
        except BaseException as error:  # reported by the main thread
            problems.append(error)

    threads = [threading.Thread(target=stream, args=("first", d9_frames[:5], "a2b")),
               threading.Thread(target=stream, args=("second", d9_frames[5:10], "b2a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not problems, problems
    for name in results:
        assert [header["seq"] for header in results[name]] == list(range(5)), results[name]
        assert all(header["status"] == "ok" and header["faces"] == 1 for header in results[name]), results[name]


def test_non_image_payload_is_refused_per_frame_by_the_routine(relay_to_real_routine, d9_frames):
    with RelayConnection(stream_url(relay_to_real_routine)) as connection:
        connection.send_frame(1, b"this is not a JPEG at all")
        header, payload = connection.receive()
        assert header["seq"] == 1 and header["status"] == "error" and payload == b""
        assert header["reason"].startswith("the prediction routine refused the frame:")
        assert "not a JPEG or PNG" in header["reason"]

        connection.send_frame(2, d9_frames[0], options={"color": "sepia"})
        header, payload = connection.receive()
        assert header["seq"] == 2 and header["status"] == "error" and "sepia" in header["reason"]

        connection.send_frame(3, d9_frames[0])  # the stream goes on
        header, _ = connection.receive()
        assert header["seq"] == 3 and header["status"] == "ok"


def test_frame_without_a_face_comes_back_unchanged_with_the_routines_reason(relay_to_real_routine, still_path):
    """The page is told why the routine found no face (its ``no_face``), not a fixed sentence."""
    cat = cv2.resize(cv2.imread(str(still_path("s39"))), (320, 240))  # a cat: no human face
    cat_jpeg = cv2.imencode(".jpg", cat)[1].tobytes()
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 24, (240, 320, 3), dtype=np.uint8)  # a covered webcam: sensor noise
    dark_jpeg = cv2.imencode(".jpg", dark)[1].tobytes()
    with RelayConnection(stream_url(relay_to_real_routine)) as connection:
        connection.send_frame(0, cat_jpeg)
        cat_header, cat_payload = connection.receive()
        connection.send_frame(1, dark_jpeg)
        dark_header, dark_payload = connection.receive()
    assert cat_header["status"] == "ok" and cat_header["faces"] == 0, cat_header
    assert cat_header["reason"] == no_face_reason(decoded(cat_jpeg)), cat_header
    assert cat_header["reason"].startswith("no face of at least"), cat_header
    assert cat_payload == cat_jpeg
    assert dark_header["status"] == "ok" and dark_header["faces"] == 0, dark_header
    assert dark_header["reason"].startswith("the frame is very dark (mean brightness "), dark_header
    assert dark_payload == dark_jpeg


def test_no_face_reason_falls_back_when_the_routine_gives_none():
    assert gateway_no_face_reason({"faces": 0}) == NO_FACE_REASON
    assert gateway_no_face_reason({"faces": 0, "no_face": None}) == NO_FACE_REASON
    assert gateway_no_face_reason({"faces": 0, "no_face": "  "}) == NO_FACE_REASON
    assert gateway_no_face_reason({"faces": 0, "no_face": " too dark "}) == "too dark"
    assert gateway_no_face_reason({"faces": 0, "no_face": "x" * 5000}) == "x" * MAX_NO_FACE_REASON_CHARS
