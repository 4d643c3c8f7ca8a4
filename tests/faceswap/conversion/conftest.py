"""Fixtures for conversion tests: tiny clips cut from the shared sample footage with ffmpeg,
one with a 440 Hz sine tone as its audio track, one without any audio. (MANIFEST.md says the
clips have no audio, but most carry an AAC track; d0 and d13 really have none. The fixtures set
the audio explicitly either way.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from faceswap.conversion.video_io import ffmpeg_executable


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
