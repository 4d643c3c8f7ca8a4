"""faceswap/images.py: JPEG frames decode through libjpeg-turbo (simplejpeg) to the same BGR pixels
OpenCV gives, and what simplejpeg cannot read still decodes (OpenCV) or fails with a clear error."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.images import decode_image, encode_jpeg, encode_png, read_image


@pytest.fixture(scope="module")
def photo(still_path):
    """A real photo with a face, as the JPEG a webcam page would send (640 px wide)."""
    frame = read_image(still_path("s1"))
    frame = cv2.resize(frame, (640, frame.shape[0] * 640 // frame.shape[1]), interpolation=cv2.INTER_AREA)
    return encode_jpeg(frame, 85)


def test_jpeg_decodes_to_the_pixels_opencv_gives(photo):
    ours = decode_image(photo)
    reference = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    assert ours.dtype == np.uint8 and ours.shape == reference.shape and ours.flags.writeable
    assert np.abs(ours.astype(np.int16) - reference).max() <= 1


def test_grayscale_jpeg_and_png_come_back_as_three_channel_bgr(photo):
    frame = decode_image(photo)
    gray = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[1].tobytes()
    assert decode_image(gray).shape == frame.shape
    assert np.array_equal(decode_image(encode_png(frame)), frame)


def test_a_cut_off_jpeg_is_an_input_error_not_a_crash(photo):
    with pytest.raises(InputError, match="not a JPEG or PNG"):
        decode_image(photo[:2] + b"\x00" * 40)


def test_encoded_frames_round_trip(photo):
    frame = decode_image(photo)
    again = decode_image(encode_jpeg(frame, 90))
    assert np.abs(again.astype(np.int16) - frame).mean() < 3
