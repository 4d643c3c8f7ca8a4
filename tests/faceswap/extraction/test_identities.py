"""Identity keys: which extracted faces show the same person (the basis of balanced batches)."""

from __future__ import annotations

import pytest

from faceswap.errors import InputError
from faceswap.extraction.extract import ExtractSettings, extract_faces
from faceswap.extraction.face_folder import FaceFolder
from faceswap.extraction.identities import face_identity, read_identity_key


def test_the_faces_manifest_is_read_as_an_identity_key(shared_data):
    key = read_identity_key(shared_data / "faces" / "MANIFEST.md")
    assert len(key) > 100
    # Two pictures of the same woman share a key; another person has another.
    assert key["f207.jpg"] == key["f210.jpg"] == "p151"
    assert key["f208.jpg"] == "p152"
    assert key["v15.mp4"] == "p336"


def test_csv_key_and_missing_or_keyless_files(tmp_path):
    table = tmp_path / "people.csv"
    table.write_text("file,id\nclips/a.mp4,alice\nb.jpg,bob\n")
    assert read_identity_key(table) == {"a.mp4": "alice", "b.jpg": "bob"}
    with pytest.raises(InputError, match="no such|cannot read"):
        read_identity_key(tmp_path / "missing.md")
    (tmp_path / "other.md").write_text("| name | who |\n|---|---|\n| x | y |\n")
    with pytest.raises(InputError, match="'file' and 'id'"):
        read_identity_key(tmp_path / "other.md")


def test_group_photo_faces_are_different_people_and_unlisted_sources_are_one_person_each():
    key = {"group.jpg": "p1", "solo.jpg": "p2"}
    assert face_identity("x/solo.jpg", 0, 1, key) == "p2"
    assert [face_identity("group.jpg", n, 3, key) for n in range(3)] == ["p1#0", "p1#1", "p1#2"]
    assert face_identity("clips/d3.mp4", 0, 1, key) == "d3"


def test_extraction_writes_identities_for_every_face_of_a_group_photo(tmp_path, shared_data, face_detector):
    out = tmp_path / "faces"
    report = extract_faces([shared_data / "faces" / "images" / "f091.jpg"], out,
                           ExtractSettings(max_faces=10, identity_key=str(shared_data / "faces" / "MANIFEST.md")),
                           detector=face_detector, progress=False)
    assert report.faces_written >= 2
    identities = sorted(record.identity for record in FaceFolder.open(out).records.values())
    assert identities == [f"p054#{n}" for n in range(report.faces_written)]
