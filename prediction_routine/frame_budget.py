"""What one frame may cost the prediction routine, checked before any pixel is decoded.

Two limits (docs/security.md, items 1 and 3 of issue 12):

- **Decompression bombs.** ``read_header`` reads the format and the dimensions from the image
  header — libjpeg-turbo's header parser for a JPEG (the live path's frames: ~2 us), Pillow's lazy
  ``Image.open`` otherwise (it parses the header only; no pixel is decoded) — and refuses, with one sentence, any format outside ``ALLOWED_FORMATS`` (JPEG and PNG, the formats of
  docs/protocols.md) and any image over the pixel limit. OpenCV, which decodes the frame
  afterwards, picks its decoder by the same file signature, so nothing else is ever decoded: a
  10 KB WebP of 16383x16383 is refused in microseconds instead of allocating 1.5 GB.
- **Live frames.** Frames of a stream (instances with a ``stream_id``: the relay's live path) are
  brought down to ``live_max_pixels`` (default 1280x720) before the swap; with ``blend: poisson``
  (``cv2.seamlessClone``, whose cost grows with the face area) to ``live_poisson_max_pixels``
  (default 640x480). A large JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself
  (``cv2.IMREAD_REDUCED_COLOR_*``), so even decoding stays cheap; the merged frame comes back at
  the reduced size (aspect ratio kept). Requests without a ``stream_id`` (batch callers) keep
  their full size, up to ``max_image_pixels``.

Settings: ``FrameLimits`` from the environment ``FACESWAP_ROUTINE_LIVE_*``.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

from faceswap.errors import FaceswapError
from faceswap.images import simplejpeg_module
from faceswap.settings import setting, settings_from
from prediction_routine.instances import InstanceError

ALLOWED_FORMATS = ("JPEG", "PNG")
# Pillow reports a JPEG with a Multi-Picture extension (phones' MPO files) as "MPO"; OpenCV decodes
# its first picture like any JPEG.
JPEG_FORMATS = ("JPEG", "MPO")
LIVE_ENV_PREFIX = "FACESWAP_ROUTINE_LIVE_"

# Signatures of formats that OpenCV would decode but the routine refuses, for a clearer message.
_OTHER_SIGNATURES = ((b"RIFF", "WebP"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
                     (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (b"\xff\x4f\xff\x51", "JPEG 2000"),
                     (b"v/1\x01", "OpenEXR"), (b"#?RADIANCE", "Radiance HDR"), (b"GIF8", "GIF"),
                     (b"P1", "PBM"), (b"P2", "PGM"), (b"P3", "PPM"), (b"P4", "PBM"), (b"P5", "PGM"),
                     (b"P6", "PPM"), (b"Y6\xa6\x95", "Sun raster"))


@dataclass
class FrameLimits:
    """Per-frame cost bounds of the live path (environment FACESWAP_ROUTINE_LIVE_*)."""

    max_pixels: int = setting(1280 * 720, "live frames (with a stream_id) are scaled down to at most this many "
                                          "pixels before the swap")
    poisson_max_pixels: int = setting(640 * 480, "live frames with blend=poisson (seamless cloning, slow) are "
                                                 "scaled down to at most this many pixels")

    def __post_init__(self) -> None:
        if self.max_pixels < 64 * 64 or self.poisson_max_pixels < 64 * 64:
            raise FaceswapError("FACESWAP_ROUTINE_LIVE_MAX_PIXELS and ..._POISSON_MAX_PIXELS must be at least 4096")


def frame_limits(environ=None, **overrides: Any) -> FrameLimits:
    """FrameLimits from defaults <- FACESWAP_ROUTINE_LIVE_* environment <- ``overrides``."""
    return settings_from(FrameLimits, env_prefix=LIVE_ENV_PREFIX, environ=environ, **overrides)


@dataclass(frozen=True)
class FrameHeader:
    """What the header of an image says: Pillow's format name and the size in pixels."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _format_name(data: bytes) -> str:
    for signature, name in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return name
    return "an unknown format"


def read_header(data: bytes, max_pixels: int) -> FrameHeader:
    """Format and size of JPEG/PNG ``data`` from its header alone; InstanceError when the format is
    not allowed, the header cannot be read, or the image is over ``max_pixels`` (width x height).

    Never decodes pixels: a JPEG's header is parsed by libjpeg-turbo (simplejpeg, ~2 us), anything
    else — and a JPEG it cannot parse — by Pillow's lazy ``Image.open`` (~50 us), whose formats are
    limited to ``ALLOWED_FORMATS`` and whose message names what is wrong.
    """
    header = _jpeg_header(data)
    if header is not None:
        return _within_limits(header, max_pixels)
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                header = FrameHeader(str(image.format), int(image.size[0]), int(image.size[1]))
    except UnidentifiedImageError:
        raise InstanceError(f"the frame is not a JPEG or PNG image ({_format_name(bytes(data[:16]))}, "
                            f"{len(data)} bytes); only JPEG and PNG are accepted") from None
    except Image.DecompressionBombError as error:
        raise InstanceError(f"the image is over the limit of {max_pixels} pixels (Pillow: {error})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        raise InstanceError(f"the image header cannot be read ({type(error).__name__}: {error})") from None
    return _within_limits(header, max_pixels)


def _jpeg_header(data: bytes) -> FrameHeader | None:
    """The size a JPEG's header announces, read by libjpeg-turbo (simplejpeg's header parser, no
    pixel decoded); None for anything else or when it cannot tell (Pillow then reads the header)."""
    if bytes(data[:3]) != b"\xff\xd8\xff":
        return None
    simplejpeg = simplejpeg_module()
    if simplejpeg is None:
        return None
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(bytes(data))
    except (ValueError, RuntimeError):
        return None
    return FrameHeader("JPEG", int(width), int(height))


def _within_limits(header: FrameHeader, max_pixels: int) -> FrameHeader:
    """``header``, or InstanceError when it announces no pixels or more than ``max_pixels``."""
    if header.width <= 0 or header.height <= 0:
        raise InstanceError(f"the image header says {header.width}x{header.height} pixels")
    if header.pixels > max_pixels:
        raise InstanceError(f"the image is {header.width}x{header.height} pixels, over the limit of "
                            f"{max_pixels} pixels")
    return header


def live_pixel_budget(limits: FrameLimits, blend: str | None) -> int:
    """The most pixels a live frame keeps for the swap, given the requested blend mode."""
    return min(limits.max_pixels, limits.poisson_max_pixels) if blend == "poisson" else limits.max_pixels


def decode_within(data: bytes, header: FrameHeader, budget: int | None):
    """Decode checked ``data`` to a BGR uint8 (H, W, 3) array of at most ``budget`` pixels.

    ``budget`` None decodes at full size. Otherwise a JPEG over the budget is decoded by libjpeg at
    the largest of 1/2, 1/4, 1/8 scale that still holds at least ``budget`` pixels, then resized
    (INTER_AREA, aspect kept) to fit. Raises InstanceError when the bytes cannot be decoded.
    """
    import cv2
    import numpy as np

    from faceswap.images import decode_image

    if budget is None or header.pixels <= budget:
        return decode_image(data)
    reduction = 1
    if header.format in JPEG_FORMATS:
        while reduction < 8 and header.pixels / (2 * reduction) ** 2 >= budget:
            reduction *= 2
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags[reduction])
    if image is None:
        raise InstanceError(f"the frame is not a JPEG or PNG image ({len(data)} bytes could not be decoded)")
    height, width = image.shape[:2]
    if height * width > budget:
        scale = math.sqrt(budget / (height * width))
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image
