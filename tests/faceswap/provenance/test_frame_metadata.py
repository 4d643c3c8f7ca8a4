"""The XMP digital source type spliced into merged JPEG frames: readable by standard tools,
pixels untouched, non-JPEG bytes passed through."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from faceswap.images import encode_jpeg
from faceswap.provenance.frame_metadata import DIGITAL_SOURCE_TYPE, add_frame_metadata, read_digital_source_type


def test_frame_gets_the_digital_source_type_and_keeps_its_pixels(clip_frames):
    frame = clip_frames("d9", count=1)[0]
    jpeg = encode_jpeg(frame, 85)
    marked = add_frame_metadata(jpeg)

    assert read_digital_source_type(jpeg) is None
    assert read_digital_source_type(marked) == DIGITAL_SOURCE_TYPE
    assert marked.startswith(jpeg[:20])  # SOI + the JFIF segment stay first
    before = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    after = cv2.imdecode(np.frombuffer(marked, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(before, after)
    # An independent reader (Pillow) finds the XMP packet and the IPTC property in it.
    xmp = Image.open(io.BytesIO(marked)).info["xmp"]
    assert b"Iptc4xmpExt:DigitalSourceType>" + DIGITAL_SOURCE_TYPE.encode() in xmp


def test_bytes_that_are_not_a_jpeg_pass_through_unchanged():
    png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    assert add_frame_metadata(png) is png
    assert add_frame_metadata(b"") == b""


def test_exif_stays_the_first_segment(still_path):
    camera_jpeg = still_path("s5").read_bytes()
    assert camera_jpeg[6:10] == b"Exif"
    marked = add_frame_metadata(camera_jpeg)
    assert marked[6:10] == b"Exif"
    assert read_digital_source_type(marked) == DIGITAL_SOURCE_TYPE
    assert Image.open(io.BytesIO(marked)).getexif() == Image.open(io.BytesIO(camera_jpeg)).getexif()
