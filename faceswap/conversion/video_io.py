"""Read video frames and write them back as a video that keeps the source's audio.

Reading goes through ``cv2.VideoCapture`` (frames are ``uint8 (H, W, 3)`` **BGR**). Writing pipes
raw BGR frames into the ffmpeg binary bundled with imageio-ffmpeg (H.264, yuv420p, same frame rate
as the source), then a second ffmpeg pass muxes the source's audio track into the result without
re-encoding it (``-c:a copy``; AAC only if the output container cannot hold the original codec).
Sources without audio give a video-only file. Everything is written to a hidden temporary file
beside the output and renamed into place at the end, so a failed conversion leaves no half file.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import imageio_ffmpeg
import numpy as np

from faceswap.errors import InputError

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds: frame size, frame rate, frame count (as the container reports it)."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int


def ffmpeg_executable() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def probe_video(path: str | Path) -> VideoInfo:
    """Open ``path`` with OpenCV and report its size, fps and frame count; InputError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such video file")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f"{path}: cannot be read as a video (unknown format or corrupt file)")
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, _ = capture.read()
        if not ok or width <= 0 or height <= 0:
            raise InputError(f"{path}: holds no readable video frames")
    finally:
        capture.release()
    if not fps or fps != fps or fps <= 0:
        raise InputError(f"{path}: the video reports no frame rate")
    return VideoInfo(path=path, width=width, height=height, fps=fps, frame_count=max(frame_count, 0))


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield every frame of the video as uint8 (H, W, 3) BGR, in order; InputError if unreadable."""
    path = Path(path)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise InputError(f"{path}: cannot be read as a video (unknown format or corrupt file)")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def has_audio_stream(path: str | Path) -> bool:
    """True when ffmpeg sees at least one audio stream in the media file ``path``."""
    result = subprocess.run([ffmpeg_executable(), "-hide_banner", "-i", str(path)],
                            capture_output=True, text=True, errors="replace", check=False)
    return re.search(r"Stream #\d+:\d+.*?: Audio:", result.stderr) is not None


def frame_rate_text(fps: float) -> str:
    """The frame rate as an exact ffmpeg rational, e.g. 29.97002997 -> '30000/1001'."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


def temporary_sibling(path: Path, tag: str) -> Path:
    """A hidden file name next to ``path`` (same folder, same suffix) for writing before renaming."""
    return path.with_name(f".{path.stem}.{tag}.{os.getpid()}{path.suffix}")


class VideoWriter:
    """Encode BGR frames to a video file with ffmpeg; ``close()`` finishes and muxes the audio.

    Use as a context manager. Frames must all be uint8 (height, width, 3) BGR. On an exception
    inside the ``with`` block the partial output is deleted and ``output`` is left untouched.
    """

    def __init__(self, output: str | Path, width: int, height: int, fps: float,
                 audio_source: str | Path | None = None, crf: int = 18, preset: str = "veryfast") -> None:
        self.output = Path(output)
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.audio_source = Path(audio_source) if audio_source is not None else None
        self.frames_written = 0
        self.audio_kept = False
        self._video_only = temporary_sibling(self.output, "video")
        # yuv420p needs even dimensions: pad odd sizes by one black row/column rather than fail.
        pad = "pad=ceil(iw/2)*2:ceil(ih/2)*2"
        command = [
            ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{self.width}x{self.height}",
            "-r", frame_rate_text(self.fps), "-i", "-",
            "-an", "-vf", pad, "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
            "-pix_fmt", "yuv420p", "-fps_mode", "passthrough",
            str(self._video_only),
        ]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 (height, width, 3) BGR frame."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} does not match the video ({self.height}, {self.width}, 3) uint8")
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            raise InputError(f"{self.output}: ffmpeg stopped accepting frames: {self._stderr_text()}") from None
        self.frames_written += 1

    def _stderr_text(self) -> str:
        self._process.wait()
        return (self._process.stderr.read() or b"").decode(errors="replace").strip()[-500:]

    def close(self) -> None:
        """Finish encoding, mux the audio track of ``audio_source`` if it has one, rename into place."""
        self._process.stdin.close()
        if self._process.wait() != 0:
            message = self._stderr_text()
            self._discard()
            raise InputError(f"{self.output}: ffmpeg could not encode the video: {message}")
        self._process.stderr.close()
        try:
            if self.audio_source is not None and has_audio_stream(self.audio_source):
                self._mux_audio()
            else:
                os.replace(self._video_only, self.output)
        finally:
            self._discard()

    def _mux_audio(self) -> None:
        muxed = temporary_sibling(self.output, "muxed")
        for audio_codec in ("copy", "aac"):
            command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-y",
                       "-i", str(self._video_only), "-i", str(self.audio_source),
                       "-map", "0:v:0", "-map", "1:a?", "-c:v", "copy", "-c:a", audio_codec,
                       str(muxed)]
            result = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
            if result.returncode == 0:
                os.replace(muxed, self.output)
                self.audio_kept = True
                return
            logger.info("audio %s into %s failed (%s)", audio_codec, self.output.suffix, result.stderr.strip()[-300:])
            muxed.unlink(missing_ok=True)
        raise InputError(f"{self.output}: the audio track of {self.audio_source} could not be written into this container")

    def _discard(self) -> None:
        self._video_only.unlink(missing_ok=True)

    def abort(self) -> None:
        """Stop ffmpeg and delete everything written so far."""
        if self._process.poll() is None:
            try:
                self._process.stdin.close()
            except OSError:
                pass
            self._process.kill()
            self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        self._discard()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
