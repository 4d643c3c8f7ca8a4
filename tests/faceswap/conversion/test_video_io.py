"""Video reading and writing (PyAV) with real clips, the shared cases and generated inputs that
declare one property each: frames come out as a player shows them, and a converted file keeps
the source's timestamps, audio and picture properties — or the notes say what changed."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest

from faceswap.conversion.video_io import (OUTPUT_VIDEO_SUFFIXES, VideoConverter, has_audio_stream,
                                          output_format, probe_video, read_frames)
from faceswap.images import merge_swapped
from faceswap.errors import InputError
from tests.faceswap.conversion.conftest import EXACT, VideoSpec, marker_frames


def _copy_through(source, output, change=None):
    """Convert ``source`` to ``output`` writing every frame unchanged (or ``change(picture)``)."""
    with VideoConverter(source, output) as video:
        for frame in video.frames():
            video.write(frame, frame.picture if change is None else change(frame.picture))
    return video


def _frame_times(path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def _audio_span(path, index: int = 0) -> tuple[float, float]:
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=index))
    last = frames[-1]
    return float(frames[0].time), float(last.time) + last.samples / last.sample_rate


def _decodes_with_ffmpeg(path) -> None:
    """The file plays: the ffmpeg binary decodes every stream to the end without an error."""
    from faceswap.conversion.video_io import ffmpeg_executable

    result = subprocess.run([ffmpeg_executable(), "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_probe_and_read_a_shared_clip(clip_path):
    info = probe_video(clip_path("d0"))
    assert (info.width, info.height, info.fps, info.frame_count) == (512, 512, 25.0, 78)
    frames = list(read_frames(clip_path("d0")))
    assert len(frames) == 78
    assert frames[0].shape == (512, 512, 3) and frames[0].dtype == np.uint8


def test_round_trip_keeps_frames_fps_and_audio(clip_with_tone, tmp_path):
    assert has_audio_stream(clip_with_tone)
    output = tmp_path / "out.mp4"

    video = _copy_through(clip_with_tone, output)

    assert video.audio_kept and has_audio_stream(output)
    assert "audio track 1 (aac) copied unchanged" in video.notes
    source, written = probe_video(clip_with_tone), probe_video(output)
    assert (written.width, written.height, written.fps) == (source.width, source.height, source.fps)
    decoded, frames = list(read_frames(output)), list(read_frames(clip_with_tone))
    assert len(decoded) == len(frames) == 12
    # H.264 at crf 18: the pictures are the same up to compression noise
    assert np.abs(decoded[5].astype(np.int16) - frames[5]).mean() < 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_source_without_audio_gives_a_video_only_file(silent_clip, tmp_path):
    output = tmp_path / "out.mkv"
    video = _copy_through(silent_clip, output)
    assert not video.audio_kept and not has_audio_stream(output)
    assert "the source has no audio" in video.notes
    assert probe_video(output).fps == pytest.approx(probe_video(silent_clip).fps)
    assert len(list(read_frames(output))) == 10


def test_failed_conversion_leaves_no_file_and_keeps_an_existing_output(clip_with_tone, tmp_path):
    output = tmp_path / "out.mp4"
    output.write_bytes(b"precious")
    with pytest.raises(RuntimeError):
        with VideoConverter(clip_with_tone, output) as video:
            for frame in video.frames():
                video.write(frame, frame.picture)
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


def test_writer_refuses_frames_of_the_wrong_size(silent_clip, tmp_path):
    with VideoConverter(silent_clip, tmp_path / "out.mp4") as video:
        for frame in video.frames():
            with pytest.raises(ValueError, match="does not match"):
                video.write(frame, np.zeros((48, 65, 3), np.uint8))
            video.write(frame, frame.picture)
    assert len(list(read_frames(tmp_path / "out.mp4"))) == 10


# ------------------------------------------------------------------ display rotation

def _portrait_clip(make_video):
    """A portrait picture (64 wide, 96 tall) stored landscape with a -90 degree display rotation,
    as phones record: the player turns the stored frame 90 degrees clockwise."""
    shown = marker_frames(6, width=64, height=96)
    stored = [np.ascontiguousarray(np.rot90(frame, 1)) for frame in shown]
    path = make_video("portrait.mp4", VideoSpec(frames=stored, times_ms=[i * 33 for i in range(6)], rotation=-90))
    return path, shown


def test_rotated_video_reads_as_displayed(make_video):
    path, shown = _portrait_clip(make_video)
    info = probe_video(path)
    assert (info.rotation, info.stored_width, info.stored_height) == (-90, 96, 64)
    # what ffmpeg's player path shows (autorotate) is the portrait picture ...
    from faceswap.conversion.video_io import ffmpeg_executable

    raw = subprocess.run([ffmpeg_executable(), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "bgr24", "-"], capture_output=True, check=True).stdout
    assert np.abs(np.frombuffer(raw, np.uint8).reshape(96, 64, 3).astype(int) - shown[0]).mean() < 4
    # ... and so is what we read
    frames = list(read_frames(path))
    assert frames[0].shape == (96, 64, 3)
    assert np.abs(frames[0].astype(int) - shown[0]).mean() < 4


def test_rotated_video_is_written_as_displayed(make_video, tmp_path):
    path, shown = _portrait_clip(make_video)
    video = _copy_through(path, tmp_path / "out.mp4")
    written = probe_video(tmp_path / "out.mp4")
    assert (written.rotation, written.stored_width, written.stored_height) == (0, 64, 96)
    for frame, expected in zip(read_frames(tmp_path / "out.mp4"), shown):
        assert np.abs(frame.astype(int) - expected).mean() < 10  # two generations of H.264 on tiny frames
        assert frame[6:18, 6:18, 2].mean() > 180 and frame[86:92, :, 0].mean() > 180  # red top left, blue bottom
    assert any(note.startswith("display matrix (rotation -90 degrees) applied to the pixels, turned 90 degrees "
                               "clockwise: the output is stored as shown (64x96)") for note in video.notes)


@pytest.mark.parametrize("rotation, mirror", [(90, (False, False)), (180, (False, False)), (0, (True, False)),
                                              (0, (False, True)), (-90, (True, False)), (90, (True, False))])
def test_every_display_matrix_reads_as_ffmpeg_shows_it(make_video, tmp_path, rotation, mirror):
    import cv2

    from faceswap.conversion.video_io import ffmpeg_executable

    stored = marker_frames(2, width=96, height=64)
    path = make_video("turned.mp4", VideoSpec(frames=stored, times_ms=[0, 33], rotation=rotation, mirror=mirror))
    subprocess.run([ffmpeg_executable(), "-v", "error", "-i", str(path), "-frames:v", "1", str(tmp_path / "shown.png")],
                   check=True)
    shown = cv2.imread(str(tmp_path / "shown.png"))
    frame = next(read_frames(path))
    assert frame.shape == shown.shape
    assert np.abs(frame.astype(int) - shown).mean() < 3
    assert shown.shape[:2] != (64, 96) or rotation in (0, 180)


def test_phone_case_faces_are_detected_upright(face_detector, shared_data):
    frame = next(read_frames(shared_data / "cases" / "rotated_phone_video.mp4"))
    assert frame.shape[:2] == (1280, 720)
    faces = face_detector.detect(frame)
    assert len(faces) == 1
    points = faces[0].landmarks
    assert points[36, 0] < points[45, 0] and points[27, 1] < points[33, 1] < points[57, 1] < points[8, 1]


# ------------------------------------------------------------------ timing

def test_variable_frame_rate_keeps_every_timestamp_and_the_sound(make_video, tmp_path):
    times = [i * 33 for i in range(8)] + [264 + i * 100 for i in range(1, 8)]
    path = make_video("vfr.mp4", VideoSpec(frames=marker_frames(len(times)), times_ms=times, audio="aac"))
    for suffix in (".mp4", ".webm"):
        output = tmp_path / f"out{suffix}"
        video = _copy_through(path, output)
        written = _frame_times(output)
        assert len(written) == len(times)
        assert max(abs(a - b / 1000) for a, b in zip(written, times)) < 1 / 30
        source_audio, written_audio = _audio_span(path), _audio_span(output)
        assert written_audio[0] == pytest.approx(source_audio[0], abs=0.03)
        assert written_audio[1] == pytest.approx(source_audio[1], abs=0.03)
        assert any(note.startswith("variable frame rate kept") for note in video.notes)


def test_variable_frame_rate_case_frame_75_stays_at_2_5_s(shared_data, tmp_path):
    source = shared_data / "cases" / "variable_frame_rate.mp4"
    _copy_through(source, tmp_path / "out.mp4")
    source_times, written = _frame_times(source), _frame_times(tmp_path / "out.mp4")
    assert len(written) == 150
    assert written[75] == pytest.approx(2.5, abs=1 / 30)
    assert max(abs(a - b) for a, b in zip(source_times, written)) < 1 / 30
    assert _audio_span(tmp_path / "out.mp4") == pytest.approx(_audio_span(source), abs=0.03)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])      # AAC copied; AAC re-encoded to Opus
def test_max_seconds_cuts_the_frames_and_the_sound_at_the_same_point(shared_data, tmp_path, suffix):
    """The first 3 s of the variable-frame-rate case (30 fps, then 15 fps from 2.5 s, AAC sound):
    exactly the frames that start before 3 s, at their own times, and the sound up to 3 s."""
    source = shared_data / "cases" / "variable_frame_rate.mp4"
    output = tmp_path / f"out{suffix}"
    with VideoConverter(source, output) as video:
        for frame in video.frames(max_seconds=3.0):
            video.write(frame, frame.picture)
    source_times = _frame_times(source)
    kept = [time for time in source_times if time < 3.0]
    assert 80 <= len(kept) < len(source_times)
    written = _frame_times(output)
    assert len(written) == len(kept) == video.frames_written
    assert max(abs(a - b) for a, b in zip(written, kept)) < 1 / 30
    start, end = _audio_span(output)
    assert start == pytest.approx(_audio_span(source)[0], abs=0.03) and end == pytest.approx(3.0, abs=0.03)
    assert f"cut after the first 3 s: {len(kept)} frames; the rest of the video and its sound are left out" in video.notes
    _decodes_with_ffmpeg(output)


def test_max_seconds_past_the_end_keeps_everything(clip_with_tone, tmp_path):
    with VideoConverter(clip_with_tone, tmp_path / "out.mp4") as video:
        for frame in video.frames(max_seconds=3600):
            video.write(frame, frame.picture)
    assert video.frames_written == 12 and not any(note.startswith("cut after") for note in video.notes)
    assert _audio_span(tmp_path / "out.mp4") == pytest.approx(_audio_span(clip_with_tone), abs=0.03)


# ------------------------------------------------------------------ containers

def test_browser_recording_to_webm_is_playable_vp9_opus(shared_data, tmp_path):
    source = shared_data / "cases" / "browser_recording.webm"
    output = tmp_path / "out.webm"
    _copy_through(source, output)
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == "vp9"
        assert [a.codec_context.name for a in container.streams.audio] == ["opus"]
    _decodes_with_ffmpeg(output)
    frames, originals = list(read_frames(output)), list(read_frames(source))
    assert len(frames) == len(originals) == 90
    assert np.abs(frames[45].astype(int) - originals[45]).mean() < 4


def test_webm_to_mp4_is_h264_aac(shared_data, tmp_path):
    output = tmp_path / "out.mp4"
    video = _copy_through(shared_data / "cases" / "browser_recording.webm", output)
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert [a.codec_context.name for a in container.streams.audio] == ["aac"]
    assert any(note.startswith("audio track 1 (opus, 48000 Hz) converted to aac") for note in video.notes)
    _decodes_with_ffmpeg(output)


@pytest.mark.parametrize("name", ["out.avi", "out.gif", "out.MP3", "no_suffix"])
def test_unsupported_output_suffix_is_refused_in_one_whole_sentence(silent_clip, tmp_path, name):
    with pytest.raises(InputError) as raised:
        VideoConverter(silent_clip, tmp_path / name)
    message = str(raised.value)
    assert message.endswith(".") and message.count(". ") == 0 and "\n" not in message
    assert all(suffix in message for suffix in OUTPUT_VIDEO_SUFFIXES)
    assert list(tmp_path.iterdir()) == []


def test_every_accepted_suffix_writes_a_playable_file(make_video, tmp_path):
    path = make_video("source.mov", VideoSpec(frames=marker_frames(4), times_ms=[0, 33, 66, 100], audio="pcm_s16le"))
    for suffix in OUTPUT_VIDEO_SUFFIXES:
        assert output_format(f"x{suffix}")
        _copy_through(path, tmp_path / f"out{suffix}")
        _decodes_with_ffmpeg(tmp_path / f"out{suffix}")
        assert len(list(read_frames(tmp_path / f"out{suffix}"))) == 4


def test_camera_pcm_is_converted_where_the_container_needs_it(make_video, tmp_path):
    path = make_video("camera.mov", VideoSpec(frames=marker_frames(10), times_ms=[i * 40 for i in range(10)],
                                              audio="pcm_s16le"))
    to_mp4 = _copy_through(path, tmp_path / "out.mp4")
    to_mov = _copy_through(path, tmp_path / "out.mov")
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    with av.open(str(tmp_path / "out.mov")) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_s16le"
    assert any("(pcm_s16le, 48000 Hz) converted to aac" in note and ".mp4 does not take pcm_s16le" in note
               for note in to_mp4.notes)
    assert "audio track 1 (pcm_s16le) copied unchanged" in to_mov.notes
    assert _audio_span(tmp_path / "out.mp4") == pytest.approx(_audio_span(path), abs=0.03)


# ------------------------------------------------------------------ picture properties

def test_pixel_aspect_ratio_is_kept_and_faces_see_square_pixels(make_video, tmp_path):
    stored = marker_frames(4, width=96, height=64)
    path = make_video("anamorphic.mp4", VideoSpec(frames=stored, times_ms=[0, 33, 66, 100],
                                                  sample_aspect_ratio=Fraction(4, 3)))
    info = probe_video(path)
    assert (info.sample_aspect_ratio, info.width, info.height) == (Fraction(4, 3), 128, 64)

    def paint(picture):  # a change on square pixels, x 64..96 of 128
        changed = picture.copy()
        changed[40:50, 64:96] = (0, 255, 0)
        return changed

    video = _copy_through(path, tmp_path / "out.mp4", change=paint)
    written = probe_video(tmp_path / "out.mp4")
    assert (written.sample_aspect_ratio, written.stored_width, written.stored_height) == (Fraction(4, 3), 96, 64)
    assert any(note.startswith("pixel aspect ratio 4:3 kept") for note in video.notes)
    with av.open(str(tmp_path / "out.mp4")) as container:
        raw = next(container.decode(video=0)).to_ndarray(format="bgr24")
    assert raw[42:48, 50:70, 1].mean() > 200 and raw[42:48, 76:90, 1].mean() < 150  # at x 48..72 stored
    assert np.abs(raw[:30].astype(int) - stored[0][:30]).mean() < 8  # the rest: H.264 noise only

    square = _copy_through(path, tmp_path / "out.webm")
    written = probe_video(tmp_path / "out.webm")
    assert (written.sample_aspect_ratio, written.stored_width, written.stored_height) == (1, 128, 64)
    assert any("resampled to square pixels (128x64" in note for note in square.notes)


def test_bt709_full_range_tags_and_levels_are_kept(make_video, tmp_path):
    frames = []
    for index in range(4):
        frame = np.zeros((64, 96, 3), np.uint8)
        frame[:, :32], frame[:, 32:64], frame[:, 64:] = (10, 10, 10), (245, 245, 245), (40, 160, 220)
        frames.append(frame)
    tags = {"color_primaries": 1, "color_trc": 1, "colorspace": 1, "color_range": 2}
    path = make_video("fullrange.mp4", VideoSpec(frames=frames, times_ms=[0, 33, 66, 100], color=tags))
    info = probe_video(path)
    assert (info.color_primaries, info.color_trc, info.colorspace, info.color_range) == (1, 1, 1, 2)
    inside = np.r_[4:28, 36:60, 68:92]  # away from the blocks' edges (chroma is subsampled)
    assert np.abs(next(read_frames(path)).astype(int) - frames[0])[:, inside].max() < 4  # the right levels

    for suffix in (".mp4", ".webm"):
        video = _copy_through(path, tmp_path / f"out{suffix}")
        written = probe_video(tmp_path / f"out{suffix}")
        assert (written.color_primaries, written.color_trc, written.colorspace, written.color_range) == (1, 1, 1, 2)
        assert np.abs(next(read_frames(tmp_path / f"out{suffix}")).astype(int) - frames[0])[:, inside].max() < 6
        assert "colour primaries bt709, transfer bt709, matrix bt709, full range kept" in video.notes


def _gradient_frames(count: int) -> list[np.ndarray]:
    """uint16 frames with a smooth horizontal ramp: 1024 distinct levels, more than 8 bits hold."""
    ramp = np.linspace(8000, 56000, 256).astype(np.uint16)
    frame = np.repeat(np.repeat(ramp[None, :, None], 64, axis=0), 3, axis=2)
    return [frame.copy() for _ in range(count)]


def _deep_frame(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr48le", interpolation=EXACT)


def test_ten_bit_video_stays_ten_bit(make_video, tmp_path):
    frames = _gradient_frames(4)
    path = make_video("deep.mp4", VideoSpec(frames=frames, times_ms=[0, 33, 66, 100], pixel_format="yuv420p10le"))
    assert probe_video(path).bit_depth == 10

    def paint(picture):
        changed = picture.copy()
        changed[:16, :16] = (0, 0, 255)
        return changed

    video = _copy_through(path, tmp_path / "out.mp4", change=paint)
    written = probe_video(tmp_path / "out.mp4")
    assert (written.bit_depth, written.pixel_format) == (10, "yuv420p10le")
    deep = _deep_frame(tmp_path / "out.mp4")
    source = _deep_frame(path)
    untouched = (slice(24, 64), slice(24, 232))
    # the untouched pixels kept their 10-bit precision: more levels than 8 bits hold on this ramp
    # (at most 187 between 8000 and 56000), and no more than H.264 noise away from the source
    assert np.abs(deep[untouched].astype(int) - source[untouched]).mean() < 257
    assert len(np.unique(deep[40, 24:232, 1])) > 190
    assert deep[4:12, 4:12, 2].mean() > 60000  # the change is there
    assert any(note.startswith("10-bit video kept as 10-bit") for note in video.notes)

    reduced = _copy_through(path, tmp_path / "out.webm")
    assert probe_video(tmp_path / "out.webm").bit_depth == 8
    assert any(note.startswith("bit depth reduced from 10 to 8 bits: the .webm encoder") for note in reduced.notes)

    from faceswap.conversion.video_io import EncodeSettings

    with VideoConverter(path, tmp_path / "eight.mp4", EncodeSettings(ten_bit=False)) as video:
        for frame in video.frames():
            video.write(frame, frame.picture)
    assert probe_video(tmp_path / "eight.mp4").pixel_format == "yuv420p"
    assert "bit depth reduced from 10 to 8 bits, as asked (--no-ten-bit)" in video.notes


def test_merge_keeps_deep_pixels_that_the_swap_did_not_change():
    stored = np.full((4, 6, 3), 1000, np.uint16)
    picture = np.full((4, 6, 3), 4, np.uint8)
    swapped = picture.copy()
    swapped[1, 2] = (200, 100, 50)
    merged = merge_swapped(stored, picture, swapped)
    assert merged.dtype == np.uint16 and (merged[1, 2] == np.array([200, 100, 50]) * 257).all()
    merged[1, 2] = 1000
    assert (merged == 1000).all()
    assert merge_swapped(stored, picture, picture) is stored
    same = np.zeros((4, 6, 3), np.uint8)
    assert merge_swapped(same, same, swapped) is swapped


def test_two_audio_tracks_both_arrive(silent_clip, tmp_path):
    from faceswap.conversion.video_io import ffmpeg_executable

    source = tmp_path / "two_tracks.mp4"
    subprocess.run([ffmpeg_executable(), "-v", "error", "-i", str(silent_clip),
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
                    "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100:duration=1",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "copy", "-c:a", "aac", "-shortest",
                    str(source)], check=True)
    to_mp4 = _copy_through(source, tmp_path / "out.mp4")
    to_webm = _copy_through(source, tmp_path / "out.webm")
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert [a.codec_context.name for a in container.streams.audio] == ["aac", "aac"]
    with av.open(str(tmp_path / "out.webm")) as container:
        assert [a.codec_context.name for a in container.streams.audio] == ["opus", "opus"]
    assert [note.split(" (")[0] for note in to_mp4.notes if note.startswith("audio")] == ["audio track 1",
                                                                                         "audio track 2"]
    assert sum(note.startswith("audio track") and "converted to opus" in note for note in to_webm.notes) == 2
    for index in (0, 1):
        assert _audio_span(tmp_path / "out.webm", index) == pytest.approx(_audio_span(source, index), abs=0.03)
    _decodes_with_ffmpeg(tmp_path / "out.webm")


def test_cover_art_is_not_taken_for_the_video(silent_clip, tmp_path):
    import cv2

    from faceswap.conversion.video_io import ffmpeg_executable

    cv2.imwrite(str(tmp_path / "cover.png"), np.full((32, 32, 3), 200, np.uint8))
    source = tmp_path / "with_cover.mp4"
    subprocess.run([ffmpeg_executable(), "-v", "error", "-i", str(tmp_path / "cover.png"), "-i", str(silent_clip),
                    "-map", "0", "-map", "1", "-c", "copy", "-c:v:0", "png", "-disposition:v:0", "attached_pic",
                    str(source)], check=True)
    info = probe_video(source)
    assert (info.width, info.height) == (probe_video(silent_clip).width, probe_video(silent_clip).height)
    video = _copy_through(source, tmp_path / "out.mp4")
    assert len(list(read_frames(tmp_path / "out.mp4"))) == 10
    assert "video (png) stream dropped (only video and audio are converted)" in video.notes


def test_odd_sizes_chroma_and_alpha_are_converted_and_said(make_video, tmp_path):
    frames = [frame[:63, :95] for frame in marker_frames(3)]
    odd = make_video("odd444.mkv", VideoSpec(frames=frames, times_ms=[0, 33, 66], pixel_format="yuv444p"))
    video = _copy_through(odd, tmp_path / "out.mp4")
    written = probe_video(tmp_path / "out.mp4")
    assert (written.stored_width, written.stored_height, written.chroma) == (96, 64, "4:2:0")
    assert "odd frame size 95x63 padded to 96x64 (4:2:0 video needs even sizes)" in video.notes
    assert "chroma 4:4:4 written as YUV 4:2:0 (the layout every player decodes)" in video.notes
    assert np.abs(next(read_frames(tmp_path / "out.mp4"))[:63, :95].astype(int) - frames[0]).mean() < 8

    rgba = [np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)]) for frame in marker_frames(3)]
    with av.open(str(tmp_path / "alpha.mov"), "w") as container:
        stream = container.add_stream("qtrle", rate=30)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "argb"
        for index, image in enumerate(rgba):
            frame = av.VideoFrame.from_ndarray(image, format="bgra").reformat(format="argb")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    video = _copy_through(tmp_path / "alpha.mov", tmp_path / "opaque.mp4")
    assert "alpha channel (argb) dropped: the output video is opaque" in video.notes
    assert "RGB video written as YUV 4:2:0 (the layout every player decodes)" in video.notes


def _combing(image: np.ndarray) -> float:
    """Mean difference of each row from the mean of its neighbours: high for interlaced motion."""
    rows = image.astype(np.float32)
    return float(np.abs(rows[1:-1] - (rows[:-2] + rows[2:]) / 2).mean())


def test_interlaced_video_is_deinterlaced_with_its_timestamps(tmp_path):
    path = tmp_path / "camcorder.mp4"
    with av.open(str(path), "w") as container:   # moving bar, the two fields 4 px apart, top field first
        stream = container.add_stream("libx264", rate=25)
        stream.codec_context.width, stream.codec_context.height, stream.codec_context.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.options = {"x264-params": "interlaced=1:tff=1", "preset": "ultrafast", "crf": "10"}
        for index in range(8):
            image = np.full((64, 96, 3), 90, np.uint8)
            image[::2, 16 + index * 4:36 + index * 4] = 250
            image[1::2, 20 + index * 4:40 + index * 4] = 250
            frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert probe_video(path).interlaced
    with av.open(str(path)) as container:
        raw = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]

    video = _copy_through(path, tmp_path / "out.mp4")

    frames = list(read_frames(path))
    assert len(frames) == len(raw) == 8
    assert np.mean([_combing(f) for f in frames]) < 0.5 * np.mean([_combing(f) for f in raw])
    assert _frame_times(tmp_path / "out.mp4") == pytest.approx(_frame_times(path), abs=0.001)
    assert not probe_video(tmp_path / "out.mp4").interlaced
    assert any(note.startswith("interlaced video deinterlaced (bwdif") for note in video.notes)


def test_ten_bit_anamorphic_video_into_mkv_keeps_its_depth_on_square_pixels(make_video, tmp_path):
    path = make_video("deep_anamorphic.mp4", VideoSpec(frames=_gradient_frames(3), times_ms=[0, 33, 66],
                                                       pixel_format="yuv420p10le", sample_aspect_ratio=Fraction(3, 2)))
    _copy_through(path, tmp_path / "out.mkv")
    written = probe_video(tmp_path / "out.mkv")
    assert (written.bit_depth, written.stored_width, written.stored_height) == (10, 384, 64)
    assert len(np.unique(_deep_frame(tmp_path / "out.mkv")[40, 36:348, 1])) > 190  # finer than 8 bits


def test_a_damaged_stretch_costs_its_frames_not_the_file(make_video, tmp_path):
    path = make_video("damaged.mp4", VideoSpec(frames=marker_frames(30), times_ms=[i * 33 for i in range(30)]))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 300] = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))

    readable = len(list(read_frames(path)))
    video = _copy_through(path, tmp_path / "out.mp4")

    assert 5 < readable < 30 and video.frames_written == readable
    assert len(list(read_frames(tmp_path / "out.mp4"))) == readable
    assert any(note.endswith(f"damaged video packets could not be decoded and were skipped ({readable} frames "
                             "written)") for note in video.notes)
