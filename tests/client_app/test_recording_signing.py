"""POST /recordings/sign on the real Django app: an MP4 recording comes back with a signed C2PA
manifest the reference reader accepts; other formats, other origins, oversized and broken
uploads get clear errors; nothing is cached."""

from __future__ import annotations

import json

import c2pa
import pytest

from faceswap.provenance.frame_metadata import DIGITAL_SOURCE_TYPE

URL = "/recordings/sign"
HOST = "page.test.invalid"


@pytest.fixture
def signing_env(tmp_path, monkeypatch):
    """Operator credentials (a fresh development pair) in the environment; the view reloads them."""
    from facedetect import recordings
    from faceswap.provenance.credentials import make_development_credentials

    paths = make_development_credentials(tmp_path / "creds")
    monkeypatch.setenv("FACESWAP_C2PA_CERT", str(paths["chain"]))
    monkeypatch.setenv("FACESWAP_C2PA_KEY", str(paths["key"]))
    monkeypatch.setattr(recordings, "_credentials", None)
    return paths


def post(client, data: bytes, content_type: str = "video/mp4", **headers):
    return client.post(URL, data=data, content_type=content_type, HTTP_HOST=HOST, **headers)


def test_mp4_recording_comes_back_signed_and_unchanged_otherwise(django_client, signing_env, clip_path, tmp_path):
    recording = clip_path("d18").read_bytes()
    response = post(django_client, recording, HTTP_ORIGIN=f"http://{HOST}", HTTP_SEC_FETCH_SITE="same-origin")

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "video/mp4" and response["Cache-Control"] == "no-store"
    signed = tmp_path / "signed.mp4"
    signed.write_bytes(response.content)
    context = c2pa.Context(settings=c2pa.Settings.from_dict({"trust": {"user_anchors": signing_env["ca"].read_text()}}))
    with c2pa.Reader(str(signed), None, None, context) as reader:
        store = json.loads(reader.json())
    assert store["validation_state"] == "Trusted", store.get("validation_results")
    manifest = store["manifests"][store["active_manifest"]]
    edits = [action for assertion in manifest["assertions"] if assertion["label"].startswith("c2pa.actions")
             for action in assertion["data"]["actions"] if action["action"] == "c2pa.edited"]
    assert edits[0]["digitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert "signed by the page server on upload" in edits[0]["parameters"]["description"]
    assert len(response.content) > len(recording)


@pytest.mark.parametrize("data, content_type, headers, status, words", [
    (b"\x1a\x45\xdf\xa3" + b"\0" * 64, "video/webm", {}, 415, "video/webm cannot carry Content Credentials"),
    (b"not an mp4 at all", "video/mp4", {}, 422, "the recording could not be signed"),
    (b"", "video/mp4", {}, 400, "holds no recording"),
    (b"\0" * 64, "video/mp4", {"HTTP_ORIGIN": "https://elsewhere.example"}, 403, "only for the page itself"),
    (b"\0" * 64, "video/mp4", {"HTTP_SEC_FETCH_SITE": "cross-site"}, 403, "only for the page itself"),
])
def test_unsignable_uploads_get_a_clear_error(django_client, signing_env, data, content_type, headers, status, words):
    response = post(django_client, data, content_type, **headers)
    assert response.status_code == status
    assert words in response.json()["error"]
    assert response["Cache-Control"] == "no-store"


def test_oversized_recording_is_refused_before_signing(django_client, signing_env, monkeypatch):
    monkeypatch.setenv("FACESWAP_RECORDING_MAX_BYTES", "1000")
    response = post(django_client, b"\0" * 2000)
    assert response.status_code == 413 and "limit is 1000 bytes" in response.json()["error"]


def test_operator_can_turn_signing_off(django_client, signing_env, monkeypatch):
    monkeypatch.setenv("FACESWAP_RECORDING_SIGNING", "off")
    response = post(django_client, b"\0" * 64)
    assert response.status_code == 503 and "turned off" in response.json()["error"]


def test_only_post(django_client):
    assert django_client.get(URL, HTTP_HOST=HOST).status_code == 405
