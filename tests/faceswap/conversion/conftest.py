"""Fixtures for conversion tests.

* ``clip_with_tone`` / ``silent_clip``: tiny clips cut from the shared sample footage with ffmpeg,
  one with a 440 Hz sine tone as its audio track, one without any audio. (MANIFEST.md says the
  clips have no audio, but most carry an AAC track; d0 and d13 really have none. The fixtures set
  the audio explicitly either way.)
* ``make_video``: writes a generated video with PyAV, declaring exactly what a test needs
  (display rotation, irregular timestamps, pixel aspect, colour tags, bit depth, audio codec), as
  phones, browsers and cameras write them. Clips are short and small to keep the suite quick.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import Interpolation
import numpy as np
import pytest

from faceswap.conversion.video_io import ffmpeg_executable

EXACT = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INP


def cut_clip(source: Path, output: Path, frames: int, tone: bool) -> Path:
    """The first ``frames`` frames of ``source`` as H.264 mp4, with an AAC sine tone if ``tone``."""
    command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
    if tone:
        command += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=5",
                    "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-shortest"]
    else:
        command += ["-an"]
    command += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(output)]
    subprocess.run(command, check=True, capture_output=True)
    return output


@pytest.fixture(scope="session")
def clip_with_tone(clip_path, tmp_path_factory) -> Path:
    """12 frames (25 fps) of d0.mp4 with a sine-tone audio track."""
    return cut_clip(clip_path("d0"), tmp_path_factory.mktemp("clips") / "d0_tone.mp4", 12, tone=True)


@pytest.fixture(scope="session")
def silent_clip(clip_path, tmp_path_factory) -> Path:
    """10 frames (30 fps) of d9.mp4 (the webcam-like clip) with its audio track removed."""
    return cut_clip(clip_path("d9"), tmp_path_factory.mktemp("clips") / "d9_silent.mp4", 10, tone=False)


@dataclass
class VideoSpec:
    """What ``make_video`` declares. ``frames``: uint8 BGR (H, W, 3) or uint16 (0..65535) arrays as
    stored; ``times_ms``: presentation time of each frame (milliseconds, time base 1/1000);
    ``rotation``: display-matrix rotation, degrees counter-clockwise (as ``VideoFrame.rotation``),
    ``mirror``: its (hflip, vflip);
    ``audio``: audio codec of a 440 Hz tone as long as the video (None: no audio)."""

    frames: list[np.ndarray]
    times_ms: list[int]
    codec: str = "libx264"
    pixel_format: str = "yuv420p"
    rotation: int = 0
    mirror: tuple[bool, bool] = (False, False)   # (hflip, vflip) in the display matrix
    sample_aspect_ratio: Fraction | None = None
    color: dict = field(default_factory=dict)   # color_primaries/color_trc/colorspace/color_range ints
    audio: str | None = None
    audio_rate: int = 48000


def write_video(path: Path, spec: VideoSpec) -> Path:
    """Encode ``spec`` into ``path`` (the container follows the suffix)."""
    deep = spec.frames[0].dtype == np.uint16
    height, width = spec.frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(spec.codec, rate=30)
        context = stream.codec_context
        context.width, context.height, context.pix_fmt = width, height, spec.pixel_format
        context.time_base = stream.time_base = Fraction(1, 1000)
        if spec.codec == "libx264":
            context.options = {"preset": "ultrafast", "crf": "12"}
        if spec.sample_aspect_ratio:
            context.sample_aspect_ratio = spec.sample_aspect_ratio
        for name, value in spec.color.items():
            setattr(context, name, value)
        if spec.rotation or any(spec.mirror):
            stream.set_display_rotation(spec.rotation, hflip=spec.mirror[0], vflip=spec.mirror[1])
        audio = None
        if spec.audio:
            audio = container.add_stream(spec.audio, rate=spec.audio_rate, layout="mono")
        range_name = "JPEG" if spec.color.get("color_range") == 2 else "MPEG"
        colorspace = {1: "ITU709"}.get(spec.color.get("colorspace"), "DEFAULT")
        for image, time_ms in zip(spec.frames, spec.times_ms):
            frame = av.VideoFrame.from_ndarray(image, format="bgr48le" if deep else "bgr24")
            frame = frame.reformat(format=spec.pixel_format, dst_colorspace=colorspace, dst_color_range=range_name,
                                   interpolation=EXACT)
            for name, value in spec.color.items():
                setattr(frame, name, value)
            frame.pts = time_ms
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            duration_s = (spec.times_ms[-1] + 33) / 1000
            samples = int(duration_s * spec.audio_rate)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / spec.audio_rate) * 32767).astype(np.int16)
            chunk = 1024
            for start in range(0, samples, chunk):
                frame = av.AudioFrame.from_ndarray(tone[None, start:start + chunk], format="s16", layout="mono")
                frame.sample_rate, frame.pts = spec.audio_rate, start
                container.mux(audio.encode(frame))
            container.mux(audio.encode(None))
    return path


@pytest.fixture
def make_video(tmp_path):
    """make_video('name.mp4', VideoSpec(...)) -> Path of the generated file in tmp_path."""
    def _make(name: str, spec: VideoSpec) -> Path:
        return write_video(tmp_path / name, spec)
    return _make


def marker_frames(count: int, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """Grey frames with a red block in the top-left corner and a blue one along the bottom edge,
    so that orientation is unambiguous; a white bar moves right with the frame number."""
    frames = []
    for index in range(count):
        frame = np.full((height, width, 3), 110, np.uint8)
        frame[4:20, 4:20] = (0, 0, 230)
        frame[height - 12:height - 4, :] = (220, 40, 0)
        column = 24 + (index * 4) % (width - 32)
        frame[24:40, column:column + 6] = 255
        frames.append(frame)
    return frames


@pytest.fixture(scope="session")
def face_frames(clip_path):
    """16 frames of d9 (a webcam-like clip with one face), 256x256 BGR uint8."""
    import cv2

    from faceswap.conversion.video_io import read_frames

    frames = []
    for frame in read_frames(clip_path("d9")):
        frames.append(cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA))
        if len(frames) == 16:
            break
    return frames
