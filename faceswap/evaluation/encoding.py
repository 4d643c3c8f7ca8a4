"""Encode measured outputs as a converted video is encoded, and decode them again.

A swap is seen after encoding: ``convert`` writes H.264 (libx264, 4:2:0, ``crf`` 18, preset
``veryfast`` by default), and that loses fine detail too. ``H264RoundTrip`` writes BGR frames to a
temporary .mp4 with the same encoder settings through PyAV and reads them back with
``faceswap.conversion.video_io.read_frames``, so the benchmark measures what a viewer gets.
Frames are uint8 (H, W, 3) BGR; odd sizes are padded for 4:2:0 and cropped again on reading.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

from faceswap.conversion.video_io import read_frames


class H264RoundTrip:
    """Write frames with ``write``, then ``close``; ``frames()`` yields them decoded, same order."""

    def __init__(self, path: str | Path, fps: float, crf: int = 18, preset: str = "veryfast") -> None:
        self.path = Path(path)
        self.fps = fps
        self.crf, self.preset = int(crf), preset
        self._container = av.open(str(self.path), "w", format="mp4")
        self._stream = None
        self.size: tuple[int, int] | None = None  # (width, height) of the frames written
        self.count = 0

    def _open_stream(self, width: int, height: int) -> None:
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._stream = stream
        self.size = (width, height)

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 (H, W, 3) BGR frame (all frames of one size)."""
        height, width = frame.shape[:2]
        if self._stream is None:
            self._open_stream(width, height)
        if (width, height) != self.size:
            raise ValueError(f"frame {width}x{height} differs from the first frame {self.size}")
        padded = cv2.copyMakeBorder(frame, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="bgr24")
        self._container.mux(self._stream.encode(video_frame))
        self.count += 1

    def close(self) -> None:
        """Flush the encoder and close the file."""
        if self._stream is not None:
            self._container.mux(self._stream.encode(None))
        self._container.close()

    def frames(self) -> Iterator[np.ndarray]:
        """The written frames decoded again (call after ``close``)."""
        if self.size is None:
            return
        width, height = self.size
        for frame in read_frames(self.path):
            yield frame[:height, :width]
