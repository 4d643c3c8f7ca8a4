"""Image bytes and files <-> arrays.

The working arrays are ``uint8`` (H, W, 3) in **BGR** order (OpenCV's), whatever the source
format, turned upright by the EXIF orientation. ``read_picture`` also keeps what a still declares
beyond that — an alpha channel, 16 bits per sample — and ``picture_to_write`` puts it back
around a swapped image: alpha untouched, full depth wherever the swap changed nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
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


def simplejpeg_module():
    """The ``simplejpeg`` module (libjpeg-turbo's decoder and header parser), or None where it is not
    installed: it is not in every image that uses faceswap (e.g. training only), so callers fall back
    to OpenCV or Pillow."""
    try:
        import simplejpeg
    except ImportError:
        return None
    return simplejpeg


def _decode_jpeg_turbo(data) -> np.ndarray | None:
    """JPEG -> BGR uint8 with libjpeg-turbo through simplejpeg (0.60 ms against OpenCV's 0.74 ms CPU for a
    640x480 frame, scripts/benchmarks/routine_benchmark.py); None when simplejpeg cannot (CMYK, corrupt),
    so OpenCV gets its try and its error message."""
    if b"Exif\x00\x00" in bytes(data[:4096]):
        return None  # a camera JPEG may be turned by its EXIF orientation: OpenCV applies it, simplejpeg not
    simplejpeg = simplejpeg_module()
    if simplejpeg is None:
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
    """Write a BGR (or BGRA; uint16 for PNG) array to an image file; the format follows the suffix."""
    path = Path(path)
    ok, buffer = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise InputError(f"{path}: could not encode the image for this file type")
    path.write_bytes(buffer.tobytes())


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 image of a uint8 (returned as is) or uint16 (0..65535, rounded to 0..255) image."""
    if image.dtype == np.uint8:
        return image
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)


def merge_swapped(stored: np.ndarray, picture: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    """``stored`` (uint8 or uint16 (H, W, 3) BGR) with the pixels that a swap changed replaced.

    picture: the uint8 (h, w, 3) BGR image that was swapped (``stored`` seen in 8 bits, maybe
    resampled); swapped: the swap's result, same shape. Changed pixels are resampled to (H, W)
    and scaled to ``stored``'s depth; the others keep their full precision. Returns ``stored``
    itself when nothing changed, ``swapped`` itself when ``stored`` is ``picture``.
    """
    if swapped is picture:
        return stored
    if stored is picture:
        return swapped
    changed = np.any(swapped != picture, axis=2)
    height, width = stored.shape[:2]
    if changed.shape != (height, width):
        swapped = cv2.resize(swapped, (width, height), interpolation=cv2.INTER_LINEAR)
        changed = cv2.resize(changed.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    values = swapped[changed]
    if stored.dtype == np.uint16:
        values = values.astype(np.uint16) * 257
    merged = stored.copy()
    merged[changed] = values
    return merged


@dataclass
class Picture:
    """A still as decoded. ``image``: uint8 (H, W, 3) BGR, upright — what detection and swapping
    see; ``colour``: (H, W, 3) BGR at the file's depth (uint8 or uint16 0..65535; the same
    array as ``image`` for plain 8-bit pictures); ``alpha``: (H, W) at that depth, or None;
    ``bit_depth``: 8 or 16 bits per sample in the file."""

    image: np.ndarray
    colour: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8


_ORIENTATIONS = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False), 7: (3, True), 8: (1, False)}


def _exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag (1..8) of encoded image bytes; 1 when absent or unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a picture without readable EXIF is simply upright
        return 1


def _upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W[, C]) array: mirror, then turn counter-clockwise."""
    turns, mirror = _ORIENTATIONS.get(orientation, (0, False))
    if mirror:
        image = image[:, ::-1]
    return np.ascontiguousarray(np.rot90(image, turns)) if turns or mirror else image


def read_picture(path: str | Path) -> Picture:
    """Read a still with its alpha channel and bit depth (see ``Picture``); InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    data = path.read_bytes()
    try:
        image = decode_image(data)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    if not (data.startswith(b"\x89PNG") or data[8:12] == b"WEBP" or data.startswith(b"BM")):
        return Picture(image=image, colour=image)  # JPEG: 8 bits, no alpha
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    channels = 1 if raw is None or raw.ndim == 2 else raw.shape[2]
    if raw is None or (raw.dtype == np.uint8 and channels in (1, 3)):
        return Picture(image=image, colour=image)
    raw = _upright(raw, _exif_orientation(data))
    alpha = raw[..., 3] if channels == 4 else None
    if channels == 1:
        colour = cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
    elif channels == 2:  # grey + alpha
        colour, alpha = cv2.cvtColor(np.ascontiguousarray(raw[..., 0]), cv2.COLOR_GRAY2BGR), raw[..., 1]
    else:
        colour = np.ascontiguousarray(raw[..., :3])
    bit_depth = 16 if raw.dtype == np.uint16 else 8
    image = to_uint8(colour)
    return Picture(image=image, colour=image if bit_depth == 8 else colour, alpha=alpha, bit_depth=bit_depth)


_ALPHA_SUFFIXES = (".png", ".webp")  # OpenCV writes BMP without alpha
_DEEP_SUFFIXES = (".png",)


def picture_to_write(picture: Picture, swapped: np.ndarray, suffix: str) -> tuple[np.ndarray, list[str]]:
    """The array to write for ``picture`` after a swap, and what could not be kept, in words.

    swapped: uint8 (H, W, 3) BGR, the swap of ``picture.image``; suffix: the file type written.
    The result is BGR or BGRA, uint16 for a 16-bit picture written as PNG, uint8 otherwise;
    outside the swapped face every pixel keeps the file's full depth, the alpha is untouched.
    """
    suffix = suffix.lower()
    notes = []
    colour, alpha = picture.colour, picture.alpha
    if picture.bit_depth > 8 and suffix not in _DEEP_SUFFIXES:
        notes.append(f"bit depth reduced from {picture.bit_depth} to 8 bits ({suffix} holds 8 bits per sample)")
        colour, alpha = picture.image, None if alpha is None else to_uint8(alpha)
    merged = merge_swapped(colour, picture.image, swapped)
    if alpha is None:
        return merged, notes
    if suffix not in _ALPHA_SUFFIXES:
        notes.append(f"alpha channel dropped ({suffix} is written without one)")
        return merged, notes
    return np.dstack([merged, alpha]), notes


def write_picture(path: str | Path, image: np.ndarray, jpeg_quality: int = 85) -> None:
    """Write a BGR or BGRA array (uint8, or uint16 for PNG) to ``path``; the format follows the suffix."""
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        path.write_bytes(encode_jpeg(image, jpeg_quality))
    else:
        write_image(path, image)
