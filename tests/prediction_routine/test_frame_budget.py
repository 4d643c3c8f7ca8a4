"""What one frame may cost the routine (issue 12, items 1, 3, 5 and 9), on the real routine with the
real test model: decompression bombs refused from the header, live frames brought to a live size,
poisson blending bounded on the live path, gentle degradation past the tracker limit, and live
streams swapping up to ``max_faces`` faces."""

from __future__ import annotations

import resource
import struct
import time
import zlib

import cv2
import numpy as np
import pytest

from faceswap.images import encode_jpeg
from prediction_routine.frame_budget import read_header
from prediction_routine.instances import InstanceError
from prediction_routine.predictor import ModelPrediction, RoutineSettings
from tests.prediction_routine.conftest import image_of, instance


def webp_header(width: int, height: int) -> bytes:
    """A small extended-format WebP (VP8X) whose canvas is ``width`` x ``height`` pixels."""
    vp8x = struct.pack("<I", 0) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    lossless = b"\x2f" + struct.pack("<I", (width - 1) | ((height - 1) << 14)) + b"\x00" * 32
    chunks = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + b"VP8L" + struct.pack("<I", len(lossless)) + lossless
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def bmp_header(width: int, height: int) -> bytes:
    """A 54-byte BMP whose header announces ``width`` x ``height`` 24-bit pixels (no pixel data)."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + width * height * 3, 0, 0, 54) + info


def png_header(width: int, height: int) -> bytes:
    """A PNG signature + IHDR announcing ``width`` x ``height`` RGB pixels, and a tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)))


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its SOF0 header rewritten to announce ``width`` x ``height``."""
    position = jpeg.index(b"\xff\xc0")
    return jpeg[:position + 5] + struct.pack(">HH", height, width) + jpeg[position + 9:]


@pytest.mark.parametrize("name, data, message", [
    ("webp 16383x16383", webp_header(16383, 16383), "not a JPEG or PNG image (WebP"),
    ("bmp 30000x30000", bmp_header(30000, 30000), "not a JPEG or PNG image (BMP"),
    ("tiff", b"II*\x00" + b"\x00" * 60, "not a JPEG or PNG image (TIFF"),
    ("png 5000x5000", png_header(5000, 5000), "5000x5000 pixels, over the limit of 16777216 pixels"),
    ("png 20000x20000", png_header(20000, 20000), "over the limit of 16777216 pixels"),
])
def test_decompression_bombs_are_refused_from_the_header_before_decoding(routine, name, data, message):
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    results = routine.predict([instance(data, stream_id="bomb"), instance(data)])
    elapsed_s = time.perf_counter() - started
    for result in results:
        assert result["image"] is None and result["faces"] == 0
        assert message in result["error"], (name, result["error"])
    assert elapsed_s < 0.5, f"{name}: refusing took {elapsed_s:.3f} s"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert grown_mb < 100, f"{name}: peak memory grew by {grown_mb:.0f} MB while refusing it"


def test_a_jpeg_header_announcing_a_huge_image_is_refused(d9_jpegs):
    with pytest.raises(InstanceError, match="8000x6000 pixels, over the limit of 16777216 pixels"):
        read_header(jpeg_with_size(d9_jpegs[0], 8000, 6000), 4096 * 4096)
    with pytest.raises(InstanceError, match="over the limit of 16777216 pixels"):
        read_header(jpeg_with_size(d9_jpegs[0], 60000, 50000), 4096 * 4096)
    assert read_header(d9_jpegs[0], 4096 * 4096).format == "JPEG"


def large_frame(frames, size) -> bytes:
    return encode_jpeg(cv2.resize(frames[3], size, interpolation=cv2.INTER_CUBIC), quality=90)


def test_live_frames_are_brought_to_the_live_size_and_batch_frames_keep_theirs(routine, d9_640x480):
    big = large_frame(d9_640x480, (3200, 2400))
    [live] = routine.predict([instance(big, stream_id="live-big")])
    assert live["error"] is None and live["faces"] == 1
    height, width = image_of(live).shape[:2]
    assert width * height <= routine.limits.max_pixels and abs(width / height - 4 / 3) < 0.01, (width, height)
    [batch] = routine.predict([instance(big)])
    assert batch["error"] is None and image_of(batch).shape[:2] == (2400, 3200)


def test_poisson_blending_on_the_live_path_is_bounded(routine, d9_640x480):
    big = large_frame(d9_640x480, (4000, 3000))
    routine.predict([instance(big, stream_id="poisson", options={"blend": "poisson"})])  # first frame builds state
    started = time.perf_counter()
    [live] = routine.predict([instance(big, stream_id="poisson", options={"blend": "poisson"})])
    live_ms = (time.perf_counter() - started) * 1000
    assert live["error"] is None and live["faces"] == 1
    height, width = image_of(live).shape[:2]
    assert width * height <= routine.limits.poisson_max_pixels, (width, height)
    # The same frame at full size (the batch path keeps it) costs many times more.
    started = time.perf_counter()
    [full] = routine.predict([instance(big, options={"blend": "poisson"})])
    full_ms = (time.perf_counter() - started) * 1000
    assert full["error"] is None and image_of(full).shape[:2] == (3000, 4000)
    print(f"4000x3000 poisson frame: live {live_ms:.0f} ms, full size {full_ms:.0f} ms")
    assert live_ms < full_ms / 3, (live_ms, full_ms)


def test_past_the_tracker_limit_streams_degrade_gently_instead_of_rebuilding_state(test_model_dir, d9_jpegs):
    routine = ModelPrediction.from_path(str(test_model_dir), settings=RoutineSettings(max_trackers=2))
    streams = [f"stream-{number}" for number in range(6)]
    for round_number in range(3):
        for stream in streams:
            [result] = routine.predict([instance(d9_jpegs[round_number], stream_id=stream)])
            assert result["error"] is None and result["faces"] == 1, (stream, result["error"])
    # Every stream kept its (cheap) state; only two trackers were ever built, none rebuilt.
    assert routine._streams.created == len(streams) and len(routine._streams) == len(streams)
    assert routine._tracker_slots.granted == 2 and routine._tracker_slots.in_use == 2


def test_live_streams_swap_every_face_up_to_max_faces(routine, d9_640x480):
    # Two people side by side (two frames of d9 next to each other), as a live stream.
    pair = encode_jpeg(np.hstack([d9_640x480[1], d9_640x480[6]]), quality=90)
    results = [routine.predict([instance(pair, stream_id="two-people")])[0] for _ in range(4)]
    assert [result["faces"] for result in results] == [2, 2, 2, 2], [r["error"] for r in results]
    stream = routine._streams.get("two-people")
    assert stream.tracker is not None and stream.tracker.max_faces == routine.swapper.settings.max_faces == 4


def _pillow_jpeg(image, **options) -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def test_jpeg_headers_read_fast_say_what_pillow_says_and_broken_ones_get_pillows_words(d9_640x480):
    from io import BytesIO

    from PIL import Image

    rgb = cv2.cvtColor(d9_640x480[0][:301, :457], cv2.COLOR_BGR2RGB)
    cmyk = BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(cmyk, "JPEG")
    variants = {"baseline": _pillow_jpeg(rgb), "progressive": _pillow_jpeg(rgb, progressive=True),
                "4:4:4": _pillow_jpeg(rgb, subsampling=0), "grey": _pillow_jpeg(rgb[..., 0]),
                "cmyk": cmyk.getvalue(), "opencv": encode_jpeg(d9_640x480[0][:301, :457])}
    for name, data in variants.items():
        with Image.open(BytesIO(data)) as image:
            expected = image.size
        header = read_header(data, 4096 * 4096)
        assert (header.format, header.width, header.height) == ("JPEG", *expected) == ("JPEG", 457, 301), name
    with pytest.raises(InstanceError, match="cannot be read|not a JPEG or PNG"):
        read_header(variants["baseline"][:40], 4096 * 4096)        # cut inside the header
    with pytest.raises(InstanceError, match="not a JPEG or PNG image"):
        read_header(b"\xff\xd8\xff" + b"\x00" * 64, 4096 * 4096)  # a JPEG signature and nothing else
