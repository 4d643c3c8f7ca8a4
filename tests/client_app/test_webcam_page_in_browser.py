"""The webcam page in a real headless Chromium whose webcam is a real talking-head clip (d9).

Everything runs for real on loopback: Django page, relay, and (for the swap test) the local
prediction server with the tiny exported test model. Pixels are read back from the page's canvases
and compared in Python; the face region comes from the project's own face detector.
"""

from __future__ import annotations

import base64
import json
import struct

import cv2
import numpy as np
import pytest

from faceswap.images import decode_image
from faceswap.provenance.frame_metadata import DIGITAL_SOURCE_TYPE, read_digital_source_type
from faceswap.provenance.verify import verify_file
from scripts.browser_webcam import give_consent_and_start
from scripts.run_service import RELAY, LocalStack, StackSettings
from tests.conftest import free_port

FRAME_TIMEOUT_MS = 90_000

BLOB_AS_BASE64 = """async (blob) => {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}"""

# Both canvases as lossless PNGs, read in one go, plus the last answered pair of JPEGs.
READ_VIEWS = f"""async () => {{
  const asBase64 = {BLOB_AS_BASE64};
  const original = document.getElementById('original-view').toDataURL('image/png').split(',')[1];
  const swapped = document.getElementById('swapped-view').toDataURL('image/png').split(',')[1];
  const pair = window.faceswapClient.lastPair();
  return {{
    original, swapped,
    seq: pair ? pair.seq : null,
    status: pair ? pair.status : null,
    sent: pair && pair.sentBlob ? await asBase64(pair.sentBlob) : null,
    received: pair && pair.receivedBlob ? await asBase64(pair.receivedBlob) : null,
  }};
}}"""


def decoded(text: str) -> np.ndarray:
    """base64 PNG/JPEG from the page -> BGR uint8 (H, W, 3)."""
    return decode_image(base64.b64decode(text))


def hud(page) -> dict:
    return page.evaluate("() => Object.assign({}, document.getElementById('hud').dataset)")


def wait_for_frames(page, count: int) -> None:
    page.wait_for_function(
        f"() => Number(document.getElementById('hud').dataset.framesReceived) >= {count}", timeout=FRAME_TIMEOUT_MS)


def assert_no_page_errors(page) -> None:
    errors = [message for message in page.console_messages if message.startswith(("pageerror", "error"))]
    assert not errors, errors


def start_stack(settings: StackSettings, model_dir=None) -> LocalStack:
    stack = LocalStack(settings, model_dir=model_dir)
    stack.start()
    return stack


def free_ports_settings(**overrides) -> StackSettings:
    return StackSettings(prediction_port=free_port(), relay_port=free_port(), page_port=free_port(), **overrides)


@pytest.fixture(scope="module")
def degraded_stack():
    """Page + relay, and nothing listening where the relay expects the prediction routine."""
    stack = start_stack(free_ports_settings(start_prediction_server=False, health_timeout_s=60))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def full_stack(request):
    """All three tiers, the prediction server serving the tiny exported test model."""
    model_dir = request.getfixturevalue("test_model_dir")
    stack = start_stack(free_ports_settings(), model_dir=model_dir)
    try:
        yield stack
    finally:
        stack.stop()


# ---------------------------------------------------------------- protocol and consent


def test_protocol_module_speaks_the_binary_frame_format(page, degraded_stack):
    page.goto(degraded_stack.page_url)
    payload = bytes([0xFF, 0xD8, 0x00, 0x01, 0xFF, 0xD9])
    header = {"seq": 7, "direction": "b2a", "options": {"mark": True}, "note": "é✓"}
    encoded = page.evaluate("""async ([header, payload]) => {
      const protocol = await import('/static/facedetect/protocol.js');
      return Array.from(new Uint8Array(protocol.encodeMessage(header, new Uint8Array(payload))));
    }""", [header, list(payload)])
    message = bytes(encoded)
    (header_length,) = struct.unpack(">I", message[:4])
    assert json.loads(message[4:4 + header_length].decode("utf-8")) == header
    assert message[4 + header_length:] == payload

    result_header = json.dumps({"seq": 3, "status": "ok", "faces": 1, "dropped": 0}).encode()
    result = struct.pack(">I", len(result_header)) + result_header + payload
    parsed = page.evaluate("""async (bytes) => {
      const protocol = await import('/static/facedetect/protocol.js');
      const { header, payload } = protocol.decodeMessage(new Uint8Array(bytes).buffer);
      const problems = [];
      for (const bad of [[0, 0], [0, 0, 0, 9, 123], [0, 0, 0, 2, 91, 93]]) {
        try { protocol.decodeMessage(new Uint8Array(bad).buffer); problems.push('accepted'); }
        catch (error) { problems.push(error instanceof protocol.ProtocolError ? error.message : 'wrong error'); }
      }
      return { header, payload: Array.from(payload), problems };
    }""", list(result))
    assert parsed["header"] == {"seq": 3, "status": "ok", "faces": 1, "dropped": 0}
    assert bytes(parsed["payload"]) == payload
    assert "shorter than its 4-byte header length" in parsed["problems"][0]
    assert "longer than the message" in parsed["problems"][1]
    assert parsed["problems"][2] == "header is not a JSON object"


def test_camera_starts_only_after_consent(page, degraded_stack, artifacts_dir):
    page.add_init_script("""
      window.cameraRequests = 0;
      const realGetUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (constraints) => { window.cameraRequests += 1; return realGetUserMedia(constraints); };
    """)
    page.goto(degraded_stack.page_url)
    assert page.get_by_role("heading", name="Before your camera turns on").is_visible()
    assert page.locator("#studio").is_hidden()
    page.screenshot(path=str(artifacts_dir / "webcam-page-consent.png"), full_page=True)
    agree = page.get_by_role("button", name="Agree and continue")
    assert agree.is_disabled()
    page.get_by_label("I understand the output is synthetic").check()
    agree.click()
    assert page.locator("#studio").is_visible()
    assert page.locator("#consent").is_hidden()
    assert page.evaluate("window.cameraRequests") == 0
    page.get_by_role("button", name="Start camera and face swap").click()
    wait_for_frames(page, 1)
    assert page.evaluate("window.cameraRequests") == 1
    page.get_by_role("button", name="Stop face swap and turn the camera off").click()
    assert page.locator("#status-text").inner_text() == "Stopped. The camera is off."
    assert page.evaluate("document.getElementById('camera').srcObject") is None


# ---------------------------------------------------------------- degraded mode and reconnect


def test_unreachable_prediction_routine_shows_the_camera_unchanged(page, degraded_stack, artifacts_dir):
    give_consent_and_start(page, degraded_stack.page_url)
    wait_for_frames(page, 3)
    status = page.locator("#status")
    assert status.get_attribute("data-status") == "degraded"
    assert "Prediction routine unreachable — showing your camera unchanged" in status.inner_text()
    assert page.locator("#unchanged-label").is_visible()
    views = page.evaluate(READ_VIEWS)
    page.screenshot(path=str(artifacts_dir / "webcam-page-degraded.png"), full_page=True)
    assert views["status"] == "degraded"
    sent, received = decoded(views["sent"]), decoded(views["received"])
    assert sent.shape == (480, 640, 3)
    assert np.array_equal(sent, received), "a degraded answer carries the frame unchanged"
    state = hud(page)
    assert float(state["latencyMs"]) > 0
    assert int(state["framesSent"]) >= int(state["framesReceived"]) >= 3
    assert_no_page_errors(page)


def test_page_reconnects_when_the_relay_comes_back(page, degraded_stack):
    give_consent_and_start(page, degraded_stack.page_url)
    wait_for_frames(page, 2)
    degraded_stack.stop_tier(RELAY)
    page.wait_for_function("() => document.getElementById('hud').dataset.connection === 'reconnecting'",
                           timeout=20_000)
    assert "reconnecting in" in page.locator("#status").inner_text()
    received_while_down = int(hud(page)["framesReceived"])
    degraded_stack.start_tier(RELAY)
    page.wait_for_function(
        f"() => Number(document.getElementById('hud').dataset.framesReceived) > {received_while_down} + 2",
        timeout=60_000)
    assert hud(page)["connection"] == "open"
    degraded_stack.check_alive()


# ---------------------------------------------------------------- the real swap


def test_swapped_faces_arrive_and_differ_in_the_face_region(page, full_stack, artifacts_dir):
    from faceswap.faces.detection import DetectionSettings, FaceDetector

    give_consent_and_start(page, full_stack.page_url)
    page.wait_for_function("() => document.getElementById('status').dataset.status === 'ok' && "
                           "Number(document.getElementById('hud').dataset.faces) >= 1", timeout=FRAME_TIMEOUT_MS)
    wait_for_frames(page, 8)
    page.wait_for_function("() => Number(document.getElementById('hud').dataset.fps) > 0", timeout=10_000)
    views = page.evaluate(READ_VIEWS)
    state = hud(page)
    page.screenshot(path=str(artifacts_dir / "webcam-page-swapping.png"), full_page=True)

    assert views["status"] == "ok"
    assert float(state["fps"]) > 0 and float(state["latencyMs"]) > 0
    assert "Swapping live" in page.locator("#status").inner_text()
    assert page.locator("#ai-label").inner_text().strip().lower() == "ai-generated"
    assert page.locator("#unchanged-label").is_hidden()
    sent, received = decoded(views["sent"]), decoded(views["received"])
    original_view, swapped_view = decoded(views["original"]), decoded(views["swapped"])
    assert swapped_view.shape == original_view.shape == (480, 640, 3)
    # The swapped canvas shows exactly the last answer.
    assert np.abs(swapped_view.astype(int) - received.astype(int)).mean() < 2.0

    # Machine-readable too: the merged JPEG carries the IPTC digital source type as XMP.
    assert read_digital_source_type(base64.b64decode(views["received"])) == DIGITAL_SOURCE_TYPE
    (artifacts_dir / "webcam-sent-frame.jpg").write_bytes(base64.b64decode(views["sent"]))
    (artifacts_dir / "webcam-swapped-frame.jpg").write_bytes(base64.b64decode(views["received"]))
    # Webcam distance: the short-range detector (the full-range one misses ~1 in 10 close d9 frames).
    with FaceDetector(DetectionSettings(full_range=False)) as detector:
        faces = detector.detect(sent)
    assert faces, "the fake webcam (d9) shows a face"
    # The swapped region: inside the hull of the 68 landmarks (brows, eyes, nose, mouth, jaw).
    inside = np.zeros(sent.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.round(faces[0].landmarks).astype(np.int32)), 1)
    inside = inside.astype(bool)

    def mean_difference(first, second, region):
        return float(np.abs(first.astype(int) - second.astype(int))[region].mean())

    face_change = mean_difference(received, sent, inside)
    background_change = mean_difference(received, sent, ~inside)
    live_face_change = mean_difference(swapped_view, original_view, inside)
    print(json.dumps({"face_change": face_change, "background_change": background_change,
                      "live_face_change": live_face_change, "hud": state}))
    # Unchanged frames differ by JPEG noise only (about 1-2 levels); the swap changes the face by far more.
    assert face_change > 6.0, "the swapped face must differ from the camera's face"
    assert face_change > 4 * background_change, "the swap must change the face far more than the rest"
    assert live_face_change > 6.0, "side by side, the two views must differ in the face region"
    assert_no_page_errors(page)


def test_recording_of_the_swapped_view_downloads_as_signed_mp4(page, full_stack, artifacts_dir):
    give_consent_and_start(page, full_stack.page_url)
    wait_for_frames(page, 3)
    page.get_by_role("button", name="Record the swapped view").click()
    received_at_start = int(hud(page)["framesReceived"])
    page.wait_for_function(
        f"() => Number(document.getElementById('hud').dataset.framesReceived) >= {received_at_start} + 10",
        timeout=FRAME_TIMEOUT_MS)
    page.get_by_role("button", name="Stop recording").click()
    # Chromium records MP4; the page server signs it (Content Credentials) and hands it back.
    link = page.get_by_role("link", name="Download the recording of the swapped view (MP4)")
    link.wait_for(state="visible", timeout=30_000)
    assert "with Content Credentials" in link.inner_text()
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    target = artifacts_dir / "swapped-recording.mp4"
    download.save_as(str(target))
    data = target.read_bytes()
    assert download.suggested_filename.startswith("faceswap-ai-generated-")
    assert download.suggested_filename.endswith(".mp4")
    assert len(data) > 1000 and data[4:8] == b"ftyp", "an MP4 file starts with its ftyp box"
    verdict = verify_file(target)
    assert verdict.status == "valid", verdict.line()
    assert verdict.digital_source_types == [DIGITAL_SOURCE_TYPE]
    assert_no_page_errors(page)
