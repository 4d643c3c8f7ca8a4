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


# ------------------------------------------------------------------ stills: orientation, alpha, bit depth

def _exif_jpeg(image: np.ndarray, orientation: int) -> bytes:
    """JPEG bytes of a BGR image with an EXIF orientation tag, as cameras write them."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(image[:, :, ::-1]).save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def _marked(width: int = 60, height: int = 40) -> np.ndarray:
    image = np.full((height, width, 3), 120, np.uint8)
    image[2:12, 2:12] = (0, 0, 255)  # red, top left
    return image


def test_exif_orientation_turns_a_camera_jpeg_upright(tmp_path):
    from faceswap.images import read_picture

    stored = np.ascontiguousarray(np.rot90(_marked(), 1))  # shown after turning 90 degrees clockwise
    path = tmp_path / "camera.jpg"
    path.write_bytes(_exif_jpeg(stored, 6))
    for image in (read_image(path), read_picture(path).image):
        assert image.shape == (40, 60, 3)
        assert image[4:10, 4:10, 2].mean() > 200 and image[4:10, 4:10, 0].mean() < 60


def test_png_alpha_is_kept_around_a_swap(tmp_path):
    from faceswap.images import picture_to_write, read_picture, write_picture

    bgra = np.dstack([_marked(), np.tile(np.linspace(0, 255, 60).astype(np.uint8), (40, 1))])
    path = tmp_path / "cutout.png"
    cv2.imwrite(str(path), bgra)
    picture = read_picture(path)
    assert picture.alpha is not None and picture.bit_depth == 8
    swapped = picture.image.copy()
    swapped[20:30, 20:30] = (0, 255, 0)

    image, notes = picture_to_write(picture, swapped, ".png")
    write_picture(tmp_path / "out.png", image)
    written = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert written.shape == (40, 60, 4) and notes == []
    assert (written[..., 3] == bgra[..., 3]).all()
    assert (written[20:30, 20:30, :3] == (0, 255, 0)).all() and (written[:20, :, :3] == bgra[:20, :, :3]).all()

    _, notes = picture_to_write(picture, swapped, ".jpg")
    assert notes == ["alpha channel dropped (.jpg is written without one)"]


def test_sixteen_bit_png_keeps_its_depth_or_says_it_is_reduced(tmp_path):
    from faceswap.images import picture_to_write, read_picture, write_picture

    ramp = np.linspace(1000, 64000, 60).astype(np.uint16)
    deep = np.repeat(np.repeat(ramp[None, :, None], 40, axis=0), 3, axis=2)
    path = tmp_path / "scan.png"
    cv2.imwrite(str(path), deep)
    picture = read_picture(path)
    assert picture.bit_depth == 16 and picture.colour.dtype == np.uint16 and picture.image.dtype == np.uint8
    swapped = picture.image.copy()
    swapped[:10, :10] = (0, 0, 255)

    image, notes = picture_to_write(picture, swapped, ".png")
    write_picture(tmp_path / "out.png", image)
    written = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and notes == []
    assert (written[10:] == deep[10:]).all()  # untouched pixels keep all 16 bits
    assert (written[:10, :10] == np.array([0, 0, 255]) * 257).all()

    image, notes = picture_to_write(picture, swapped, ".webp")
    assert image.dtype == np.uint8 and notes == ["bit depth reduced from 16 to 8 bits (.webp holds 8 bits per sample)"]


def test_grey_picture_with_alpha_reads_as_colour_plus_alpha(tmp_path):
    from faceswap.images import read_picture

    grey = np.dstack([np.full((8, 8), 90, np.uint8), np.full((8, 8), 200, np.uint8)])
    from PIL import Image

    Image.fromarray(grey, mode="LA").save(tmp_path / "la.png")
    picture = read_picture(tmp_path / "la.png")
    assert picture.image.shape == (8, 8, 3) and (picture.image == 90).all()
    assert picture.alpha is not None and (picture.alpha == 200).all()
