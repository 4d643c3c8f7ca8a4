"""Benchmark frames: 640x480 frames of the shared sample clips, as BGR arrays or JPEG bytes.

Shared by the routine and stream benchmarks so they measure the same input. Clips are read from
../shared/data/clips (FACESWAP_SHARED_DATA overrides the data folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from faceswap.conversion.video_io import read_frames
from faceswap.images import encode_jpeg

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("FACESWAP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
FRAME_SIZE = (640, 480)


def cover_crop(frame: np.ndarray, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """Scale a BGR uint8 frame to cover ``size`` (w, h), then centre-crop to exactly that size."""
    width, height = size
    scale = max(width / frame.shape[1], height / frame.shape[0])
    resized = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


def clip_jpegs(clip: str, count: int, quality: int) -> list[bytes]:
    """The first ``count`` frames of ../shared/data/clips/<clip>.mp4, cover-cropped to 640x480, as JPEG bytes."""
    path = SHARED_DATA / "clips" / f"{clip}.mp4"
    jpegs = []
    for frame in read_frames(path):
        jpegs.append(encode_jpeg(cover_crop(frame), quality=quality))
        if len(jpegs) >= count:
            break
    if not jpegs:
        raise SystemExit(f"no frames read from {path}")
    return jpegs
