"""Image bytes and files <-> arrays.

All arrays are ``uint8`` (H, W, 3) in **BGR** order (OpenCV's), whatever the source format.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from faceswap.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def decode_image(data: bytes) -> np.ndarray:
    """Decode JPEG/PNG/... bytes to a BGR uint8 (H, W, 3) array; raise InputError if not an image."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise InputError("the frame is empty: expected JPEG or PNG bytes")
    if bytes(data[:2]) == b"\xff\xd8":
        image = _decode_jpeg_turbo(data)
        if image is not None:
            return image
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"the frame is not a JPEG or PNG image ({len(data)} bytes could not be decoded)")
    return image


def _decode_jpeg_turbo(data) -> np.ndarray | None:
    """JPEG -> BGR uint8 with libjpeg-turbo through simplejpeg (0.60 ms against OpenCV's 0.74 ms CPU for a
    640x480 frame, scripts/benchmarks/routine_benchmark.py); None when simplejpeg cannot (CMYK, corrupt),
    so OpenCV gets its try and its error message."""
    try:
        import simplejpeg
    except ImportError:  # not in every image that uses faceswap (e.g. training only)
        return None
    try:
        return simplejpeg.decode_jpeg(bytes(data), colorspace="BGR")
    except (ValueError, RuntimeError):
        return None


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """Encode a BGR uint8 (H, W, 3) array as JPEG bytes."""
    ok, buffer = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise InputError("the frame could not be encoded as JPEG")
    return buffer.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    """Encode a BGR uint8 (H, W, 3) array as PNG bytes (lossless)."""
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise InputError("the image could not be encoded as PNG")
    return buffer.tobytes()


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file to a BGR uint8 (H, W, 3) array; raise InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    try:
        return decode_image(path.read_bytes())
    except InputError as error:
        raise InputError(f"{path}: {error}") from None


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write a BGR uint8 array to an image file; the format follows the suffix."""
    path = Path(path)
    ok, buffer = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise InputError(f"{path}: could not encode the image for this file type")
    path.write_bytes(buffer.tobytes())


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
