"""Video reading and writing with real clips: frame count, fps and the audio track survive a
round trip; unreadable files give an error naming them; a failed write leaves nothing behind."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.conversion.video_io import VideoWriter, has_audio_stream, probe_video, read_frames
from faceswap.errors import InputError


def _round_trip(source, output, **writer_options):
    info = probe_video(source)
    frames = list(read_frames(source))
    with VideoWriter(output, info.width, info.height, info.fps, audio_source=source, **writer_options) as writer:
        for frame in frames:
            writer.write(frame)
    return info, frames, writer


def test_probe_and_read_a_shared_clip(clip_path):
    info = probe_video(clip_path("d0"))
    assert (info.width, info.height, info.fps, info.frame_count) == (512, 512, 25.0, 78)
    frames = list(read_frames(clip_path("d0")))
    assert len(frames) == 78
    assert frames[0].shape == (512, 512, 3) and frames[0].dtype == np.uint8


def test_round_trip_keeps_frames_fps_and_audio(clip_with_tone, tmp_path):
    assert has_audio_stream(clip_with_tone)
    output = tmp_path / "out.mp4"

    info, frames, writer = _round_trip(clip_with_tone, output)

    assert writer.audio_kept and has_audio_stream(output)
    written = probe_video(output)
    assert (written.width, written.height, written.fps) == (info.width, info.height, info.fps)
    decoded = list(read_frames(output))
    assert len(decoded) == len(frames) == 12
    # H.264 at crf 18: the pictures are the same up to compression noise
    assert np.abs(decoded[5].astype(np.int16) - frames[5]).mean() < 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_source_without_audio_gives_a_video_only_file(silent_clip, tmp_path):
    output = tmp_path / "out.mkv"
    info, frames, writer = _round_trip(silent_clip, output)
    assert not writer.audio_kept and not has_audio_stream(output)
    assert probe_video(output).fps == pytest.approx(info.fps)
    assert len(list(read_frames(output))) == len(frames) == 10


def test_failed_write_leaves_no_file_and_keeps_an_existing_output(clip_with_tone, tmp_path):
    output = tmp_path / "out.mp4"
    output.write_bytes(b"precious")
    frame = next(read_frames(clip_with_tone))
    with pytest.raises(RuntimeError):
        with VideoWriter(output, 512, 512, 25.0, audio_source=clip_with_tone) as writer:
            writer.write(frame)
            raise RuntimeError("conversion failed half way")
    assert output.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_unreadable_video_is_a_clear_error_naming_the_file(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(InputError, match="broken.mp4"):
        probe_video(broken)
    with pytest.raises(InputError, match="missing.mp4: no such video file"):
        probe_video(tmp_path / "missing.mp4")


def test_writer_refuses_frames_of_the_wrong_size(tmp_path):
    with VideoWriter(tmp_path / "out.mp4", 64, 48, 25.0) as writer:
        with pytest.raises(ValueError, match="does not match"):
            writer.write(np.zeros((48, 65, 3), np.uint8))
        writer.write(np.zeros((48, 64, 3), np.uint8))
    assert len(list(read_frames(tmp_path / "out.mp4"))) == 1
