"""Where the server finds its model: MODEL_DIR / AIP_STORAGE_URI, and gs:// copies via the Storage API
(driven through googleapiclient's HttpMockSequence: exact requests asserted)."""

from __future__ import annotations

import json

import pytest
from googleapiclient.http import HttpMockSequence

from faceswap.errors import ModelDirectoryError
from prediction_routine.model_location import (REPO_DEFAULT_MODEL, download_gcs_folder, local_model_dir,
                                               model_uri_from_environment, split_gcs_uri)

STORAGE = "https://storage.googleapis.com/storage/v1/b/"


def test_model_uri_precedence():
    assert model_uri_from_environment({"MODEL_DIR": "/m", "AIP_STORAGE_URI": "gs://b/x"}) == "/m"
    assert model_uri_from_environment({"AIP_STORAGE_URI": "gs://b/x"}) == "gs://b/x"
    assert model_uri_from_environment({}) == str(REPO_DEFAULT_MODEL)


def test_split_gcs_uri():
    assert split_gcs_uri("gs://bucket/models/default/") == ("bucket", "models/default/")
    assert split_gcs_uri("gs://bucket") == ("bucket", "")
    with pytest.raises(ModelDirectoryError, match="not a gs://"):
        split_gcs_uri("/local/path")


def test_gcs_folder_is_copied_with_pages(tmp_path):
    manifest = json.dumps({"format": 1}).encode()
    http = HttpMockSequence([
        ({"status": "200"}, json.dumps({"items": [{"name": "models/default/"},
                                                  {"name": "models/default/manifest.json"}],
                                        "nextPageToken": "page2"})),
        ({"status": "200"}, manifest),
        ({"status": "200"}, json.dumps({"items": [{"name": "models/default/tflite/model.tflite"}]})),
        ({"status": "200"}, b"\x1c\x00TFL3"),
    ])
    folder = local_model_dir("gs://demo-models/models/default", download_to=tmp_path / "copy", http=http)
    assert (folder / "manifest.json").read_bytes() == manifest
    assert (folder / "tflite" / "model.tflite").read_bytes() == b"\x1c\x00TFL3"
    assert [(method, uri) for uri, method, _, _ in http.request_sequence] == [
        ("GET", STORAGE + "demo-models/o?prefix=models%2Fdefault%2F&alt=json"),
        ("GET", STORAGE + "demo-models/o/models%2Fdefault%2Fmanifest.json?alt=media"),
        ("GET", STORAGE + "demo-models/o?prefix=models%2Fdefault%2F&pageToken=page2&alt=json"),
        ("GET", STORAGE + "demo-models/o/models%2Fdefault%2Ftflite%2Fmodel.tflite?alt=media"),
    ]


def test_empty_or_unreadable_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelDirectoryError, match="no files under this Cloud Storage folder"):
        download_gcs_folder("gs://demo-models/nothing", tmp_path, http=HttpMockSequence([
            ({"status": "200"}, json.dumps({"kind": "storage#objects"}))]))
    with pytest.raises(ModelDirectoryError, match=r"cannot read the model folder .*HTTP 403"):
        download_gcs_folder("gs://demo-models/secret", tmp_path, http=HttpMockSequence([
            ({"status": "403"}, json.dumps({"error": {"code": 403, "message": "denied"}}))]))


def test_object_names_cannot_escape_the_folder(tmp_path):
    http = HttpMockSequence([({"status": "200"}, json.dumps({"items": [{"name": "m/../../etc/passwd"}]}))])
    with pytest.raises(ModelDirectoryError, match="escapes the model folder"):
        download_gcs_folder("gs://b/m", tmp_path / "copy", http=http)


def test_local_paths_are_used_as_they_are(tmp_path):
    assert local_model_dir(str(tmp_path)) == tmp_path
