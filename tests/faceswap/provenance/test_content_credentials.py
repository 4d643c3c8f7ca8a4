"""Real conversions carry signed C2PA manifests that the reference reader (c2pa.Reader) accepts,
stating c2pa.edited with the IPTC digital source type compositeWithTrainedAlgorithmicMedia, the
software and the model's checksums; the input is an ingredient only when the operator allows it."""

from __future__ import annotations

import json

import c2pa
import pytest

from faceswap.conversion.video_io import probe_video, read_frames
from faceswap.model.runtime import file_sha256
from faceswap.provenance.frame_metadata import DIGITAL_SOURCE_TYPE
from tests.faceswap.provenance.conftest import DEFAULT_MODEL


def read_store(path, trust_anchors: str | None = None) -> dict:
    settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    context = c2pa.Context(settings=c2pa.Settings.from_dict(settings))
    with c2pa.Reader(str(path), None, None, context) as reader:
        return json.loads(reader.json())


def active(store: dict) -> dict:
    return store["manifests"][store["active_manifest"]]


def actions(manifest: dict) -> list[dict]:
    found = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    assert len(found) == 1, manifest["assertions"]
    return found[0]["data"]["actions"]


def assert_swap_edit(manifest: dict) -> None:
    edited = [action for action in actions(manifest) if action["action"] == "c2pa.edited"]
    assert len(edited) == 1
    edit = edited[0]
    assert edit["digitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert edit["softwareAgent"]["name"] == "faceswap"
    model = edit["parameters"]["model"]
    model_manifest = json.loads((DEFAULT_MODEL / "manifest.json").read_text())
    assert model["name"] == "default" and model["config"] == model_manifest["config"]
    assert model["manifest_sha256"] == file_sha256(DEFAULT_MODEL / "manifest.json")
    assert {entry["path"]: entry["sha256"] for entry in model["files"]} == \
        {entry["path"]: entry["sha256"] for entry in model_manifest["files"]}


def test_converted_clip_has_a_valid_trusted_manifest_with_the_edit_and_the_input_as_ingredient(
        signed_clip, dev_credentials):
    source, output = signed_clip
    store = read_store(output, dev_credentials["ca"].read_text())

    assert store["validation_state"] == "Trusted", store.get("validation_results")
    manifest = active(store)
    assert manifest["signature_info"]["alg"].lower() == "es256"
    assert "C2PA signer (development only)" in manifest["signature_info"]["common_name"]
    assert_swap_edit(manifest)
    assert actions(manifest)[0]["action"] == "c2pa.opened"
    assert [(i["title"], i["relationship"]) for i in manifest["ingredients"]] == [(source.name, "parentOf")]
    assert any(a["label"].startswith("c2pa.hash.bmff") for a in manifest["assertions"])
    # Still the same video: every frame decodes, same size and rate.
    assert len(list(read_frames(output))) == 8
    assert probe_video(output).fps == probe_video(source).fps


def test_without_trust_anchors_the_development_signature_is_valid_but_untrusted(signed_clip):
    store = read_store(signed_clip[1])
    assert store["validation_state"] == "Valid"
    failures = [entry["code"] for entry in store["validation_results"]["activeManifest"]["failure"]]
    assert failures == ["signingCredential.untrusted"]


def test_swapped_still_is_signed_without_ingredient_and_the_faceless_copy_is_left_alone(signed_stills):
    source, output = signed_stills
    manifest = active(read_store(output / "s5.jpg"))
    assert_swap_edit(manifest)
    created = actions(manifest)[0]
    assert created["action"] == "c2pa.created" and created["digitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert not manifest.get("ingredients"), "the input is bound only when the operator allows it"
    # No face -> a byte-for-byte copy, no manifest (nothing was generated in it).
    assert (output / "s39.jpg").read_bytes() == (source / "s39.jpg").read_bytes()
    with pytest.raises(c2pa.C2paError.ManifestNotFound):
        read_store(output / "s39.jpg")
    assert sorted(path.name for path in output.iterdir()) == ["s39.jpg", "s5.jpg"]  # no temporary left
