"""Extraction on real clips and stills: aligned faces + faces.json; bad inputs get clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.extraction.extract import ExtractSettings, extract_faces
from faceswap.extraction.face_folder import FaceFolder
from faceswap.faces.alignment import EXTRACT_LAYOUT, MEAN_FACE
from faceswap.images import read_image


def test_extracts_aligned_faces_from_a_clip_and_stills(tmp_path, clip_path, still_path, face_detector):
    output = tmp_path / "faces"
    report = extract_faces([clip_path("d18"), still_path("s3"), still_path("s33")], output,
                           ExtractSettings(every_n_frames=30), detector=face_detector, progress=False)
    assert report.frames == 8 + 2                    # 216 frames / 30 -> 8, plus two stills
    assert report.faces_written == report.frames_with_faces == 9   # the dog (s33) has none
    folder = FaceFolder.open(output)
    assert folder.layout == EXTRACT_LAYOUT
    assert len(folder.records) == 9
    for name, record in folder.records.items():
        crop = read_image(output / name)
        assert crop.shape == (256, 256, 3)
        # aligned: the inner landmarks sit near the mean face in the 256/48 layout
        expected = MEAN_FACE * 160 + 48
        assert np.abs(record.landmarks[17:] - expected).mean() < 8.0


def test_adding_to_a_folder_keeps_existing_faces(tmp_path, still_path, face_detector):
    output = tmp_path / "faces"
    extract_faces([still_path("s3")], output, detector=face_detector, progress=False)
    extract_faces([still_path("s4")], output, detector=face_detector, progress=False)
    names = json.loads((output / "faces.json").read_text())["faces"].keys()
    assert set(names) == {"s3_000000_0.png", "s4_000000_0.png"}


def test_folder_in_another_layout_is_refused(tmp_path, still_path, face_detector):
    output = tmp_path / "faces"
    extract_faces([still_path("s3")], output, detector=face_detector, progress=False)
    with pytest.raises(InputError, match="layout"):
        extract_faces([still_path("s4")], output, ExtractSettings(size=128), detector=face_detector, progress=False)


def test_no_face_anywhere_is_a_clear_error(tmp_path, still_path, face_detector):
    with pytest.raises(InputError, match="no face found in s23.jpg"):
        extract_faces([still_path("s23")], tmp_path / "faces", detector=face_detector, progress=False)


def test_unreadable_video_is_named(tmp_path, face_detector):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    with pytest.raises(InputError, match="broken.mp4"):
        extract_faces([broken], tmp_path / "faces", detector=face_detector, progress=False)
    assert not (tmp_path / "faces").exists()


def test_missing_input_and_empty_folder(tmp_path, face_detector):
    with pytest.raises(InputError, match="no such file or folder"):
        extract_faces([tmp_path / "nope.mp4"], tmp_path / "faces", detector=face_detector, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos or pictures"):
        extract_faces([tmp_path / "empty"], tmp_path / "faces", detector=face_detector, progress=False)


def test_corrupt_face_folder_is_reported(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    with pytest.raises(InputError, match="has no faces.json"):
        FaceFolder.open(folder)
    (folder / "faces.json").write_text("{not json")
    with pytest.raises(InputError, match="corrupt face index"):
        FaceFolder.open(folder)
    (folder / "faces.json").write_text(json.dumps({"layout": {"size": 256, "padding_ratio": 0.1875}, "faces": {}}))
    with pytest.raises(InputError, match="empty"):
        FaceFolder.open(folder)


def test_first_frame_and_max_frames_select_a_range(tmp_path, clip_path, face_detector):
    report = extract_faces([clip_path("d18")], tmp_path / "faces",
                           ExtractSettings(first_frame=200, every_n_frames=5, max_frames=3),
                           detector=face_detector, progress=False)
    assert report.frames == 3
    frames = sorted(record.frame for record in FaceFolder.open(tmp_path / "faces").records.values())
    assert frames == [200, 205, 210]
