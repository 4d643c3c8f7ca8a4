"""The convert command on real footage with the real tiny exported model (``test_model_dir``):
video -> video keeps frame count, fps and the audio track; folder -> folder swaps faces and
copies faceless pictures unchanged; nothing is overwritten by accident; bad inputs are clear errors."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest

from faceswap.conversion import command
from faceswap.conversion.convert import ConvertSettings, convert
from faceswap.conversion.video_io import has_audio_stream, probe_video, read_frames
from faceswap.errors import InputError, ModelDirectoryError
from faceswap.images import read_image
from faceswap.swapping.frame_swapper import SwapSettings


def _run_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.quiet = True
    return command.run(args)


def test_video_keeps_frame_count_fps_and_audio(clip_with_tone, test_model_dir, tmp_path, capsys):
    output = tmp_path / "swapped.mp4"

    code = _run_command(str(clip_with_tone), str(output), "--model-dir", str(test_model_dir), "--direction", "b2a")

    assert code == 0
    assert "12 frames (12 with faces" in capsys.readouterr().out
    source, result = probe_video(clip_with_tone), probe_video(output)
    assert (result.width, result.height, result.fps) == (source.width, source.height, source.fps)
    converted = list(read_frames(output))
    assert len(converted) == 12
    assert has_audio_stream(output)
    original = next(read_frames(clip_with_tone))
    difference = np.abs(converted[0].astype(np.int16) - original).max(axis=2)
    assert (difference > 40).sum() > 500  # the face (and the mark) changed
    corner = difference[: source.height // 4, : source.width // 4]
    assert corner.mean() < 3  # the background only carries H.264 noise
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped.mp4"]


def test_max_seconds_converts_the_start_of_a_video(clip_with_tone, test_model_dir, tmp_path, capsys):
    info = probe_video(clip_with_tone)
    seconds = 5.5 / info.fps        # frames 0-5 start before it
    output = tmp_path / "start.mp4"
    code = _run_command(str(clip_with_tone), str(output), "--model-dir", str(test_model_dir), "--max-seconds",
                        str(seconds))
    assert code == 0
    printed = capsys.readouterr().out
    assert "6 frames (6 with faces" in printed and f"note: cut after the first {seconds:g} s: 6 frames" in printed
    assert len(list(read_frames(output))) == 6 and has_audio_stream(output)
    with pytest.raises(InputError, match="--max-seconds must be 0 \\(the whole video\\) or more, not -1"):
        convert(clip_with_tone, tmp_path / "never.mp4", test_model_dir, ConvertSettings(max_seconds=-1), progress=False)
    assert not (tmp_path / "never.mp4").exists()


def test_existing_output_is_refused_unless_overwrite(clip_with_tone, test_model_dir, tmp_path):
    output = tmp_path / "taken.mp4"
    output.write_bytes(b"someone's video")
    with pytest.raises(InputError, match="taken.mp4: already exists; pass --overwrite"):
        convert(clip_with_tone, output, test_model_dir, progress=False)
    assert output.read_bytes() == b"someone's video"

    report = convert(clip_with_tone, output, test_model_dir, ConvertSettings(overwrite=True), progress=False)
    assert report.frames == 12 and len(list(read_frames(output))) == 12


def test_the_input_is_never_the_output(clip_with_tone, test_model_dir, tmp_path):
    with pytest.raises(InputError, match="the output is the input video"):
        convert(clip_with_tone, clip_with_tone, test_model_dir, ConvertSettings(overwrite=True), progress=False)


def test_folder_to_folder(still_path, test_model_dir, tmp_path):
    pictures = tmp_path / "in"
    pictures.mkdir()
    for name in ("s0", "s9", "s23"):
        shutil.copyfile(still_path(name), pictures / f"{name}.jpg")
    (pictures / "broken.jpg").write_bytes(b"not a jpeg")
    (pictures / "notes.txt").write_text("not a picture either")
    output = tmp_path / "out"

    report = convert(pictures, output, test_model_dir, progress=False)

    assert (report.frames, report.frames_with_faces, report.skipped) == (3, 2, ["broken.jpg"])
    assert sorted(p.name for p in output.iterdir()) == ["s0.jpg", "s23.jpg", "s9.jpg"]
    assert (output / "s23.jpg").read_bytes() == (pictures / "s23.jpg").read_bytes()
    for name in ("s0", "s9"):
        before, after = read_image(pictures / f"{name}.jpg"), read_image(output / f"{name}.jpg")
        assert after.shape == before.shape
        assert (np.abs(after.astype(np.int16) - before).max(axis=2) > 40).sum() > 300

    with pytest.raises(InputError, match="already holds 3 of the pictures"):
        convert(pictures, output, test_model_dir, progress=False)


def test_unreadable_video_is_a_clear_error(test_model_dir, tmp_path):
    broken = tmp_path / "holiday.mp4"
    broken.write_bytes(b"\x00\x01 definitely not a video" * 64)
    with pytest.raises(InputError, match="holiday.mp4"):
        _run_command(str(broken), str(tmp_path / "out.mp4"), "--model-dir", str(test_model_dir))
    assert not (tmp_path / "out.mp4").exists()


def test_bad_model_directory_is_a_model_directory_error(clip_with_tone, tmp_path):
    with pytest.raises(ModelDirectoryError):
        convert(clip_with_tone, tmp_path / "out.mp4", tmp_path / "no-model-here", progress=False)


def test_command_line_reports_a_bad_video_in_one_line(tmp_path, capsys):
    from faceswap.cli import main

    broken = tmp_path / "holiday.mp4"
    broken.write_bytes(b"\x00\x01 definitely not a video" * 64)

    code = main(["convert", str(broken), str(tmp_path / "out.mp4"), "--model-dir", str(tmp_path / "model")])

    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "holiday.mp4" in error and "Traceback" not in error
    assert len(error.splitlines()) == 1


# ------------------------------------------------------------------ media that people really bring

def test_phone_like_video_keeps_timestamps_sound_and_says_what_changed(face_frames, make_video, test_model_dir,
                                                                        tmp_path, capsys):
    """A variable-frame-rate .mov with camera PCM and no face in its last frames, converted to .webm."""
    from tests.faceswap.conversion.conftest import VideoSpec

    blank = [np.full_like(face_frames[0], 128) for _ in range(3)]
    times = [i * 33 for i in range(8)] + [231 + i * 66 for i in range(1, 12)]
    source = make_video("phone.mov", VideoSpec(frames=face_frames[:16] + blank, times_ms=times, audio="pcm_s16le"))
    output = tmp_path / "swapped.webm"

    code = _run_command(str(source), str(output), "--model-dir", str(test_model_dir))

    assert code == 0
    printed = capsys.readouterr().out
    assert "19 frames (16 with faces" in printed
    assert "3 frames without a face, written unchanged:\n  3 x the frame is very blurred or flat" in printed
    assert "note: written as VP9 + Opus in .webm" in printed
    assert "note: audio track 1 (pcm_s16le, 48000 Hz) converted to opus at 48000 Hz: .webm does not take pcm_s16le" \
        in printed
    assert "note: variable frame rate kept" in printed
    import av

    with av.open(str(output)) as container:
        assert [s.codec_context.name for s in container.streams] == ["vp9", "opus"]
        written = [float(frame.time) for frame in container.decode(video=0)]
    assert max(abs(a - b / 1000) for a, b in zip(written, times)) < 1 / 30 and len(written) == 19
    converted = list(read_frames(output))
    assert np.abs(converted[2].astype(np.int16) - face_frames[2]).max(axis=2).__gt__(40).sum() > 300  # swapped


def test_unsupported_output_is_refused_before_the_model_loads(clip_with_tone, tmp_path):
    with pytest.raises(InputError) as raised:
        convert(clip_with_tone, tmp_path / "out.avi", tmp_path / "no-model-here", progress=False)
    message = str(raised.value)
    assert "out.avi: videos are written as .mp4, .m4v, .mov, .mkv or .webm (.avi is not supported)" in message
    assert message.endswith("suffixes.") and not (tmp_path / "out.avi").exists()


@pytest.mark.parametrize("settings, message", [(dict(local_tone=float("inf")), r"local_tone must be in \[0, 1\]"),
                                               (dict(color="sepia"), "unknown colour mode 'sepia'")])
def test_bad_swap_settings_are_refused_before_the_model_loads(clip_with_tone, tmp_path, settings, message):
    with pytest.raises(InputError, match=message):   # not the missing model: the settings come first
        convert(clip_with_tone, tmp_path / "out.mp4", tmp_path / "no-model-here", progress=False,
                swap_settings=SwapSettings(**settings))
    assert not (tmp_path / "out.mp4").exists()


def test_small_faces_in_full_hd_frames_are_found_and_swapped(shared_data, test_model_dir, tmp_path):
    pictures = tmp_path / "in"
    pictures.mkdir()
    for name in ("small_face_1080p_80px.jpg", "small_face_1080p_48px.jpg"):
        shutil.copyfile(shared_data / "cases" / name, pictures / name)

    report = convert(pictures, tmp_path / "out", test_model_dir, progress=False)

    assert (report.frames, report.frames_with_faces, report.faces) == (2, 2, 2)
    for name in ("small_face_1080p_80px.jpg", "small_face_1080p_48px.jpg"):
        before, after = read_image(pictures / name), read_image(tmp_path / "out" / name)
        changed = np.abs(after.astype(np.int16) - before).max(axis=2) > 40
        ys, xs = np.nonzero(changed[: before.shape[0] // 2])  # the face is in the upper half, the mark lower
        assert len(ys) > 100 and 700 < xs.mean() < 1100


def test_pictures_keep_alpha_and_sixteen_bits(still_path, test_model_dir, tmp_path):
    import cv2

    face = read_image(still_path("s0"))
    alpha = np.full(face.shape[:2], 255, np.uint8)
    alpha[:, : face.shape[1] // 8] = 0  # a transparent strip, as in a cut-out
    pictures = tmp_path / "in"
    pictures.mkdir()
    cv2.imwrite(str(pictures / "cutout.png"), np.dstack([face, alpha]))
    deep = face.astype(np.uint16) * 257 + 100  # 16-bit samples that 8 bits cannot hold
    cv2.imwrite(str(pictures / "deep.png"), deep)

    report = convert(pictures, tmp_path / "out", test_model_dir, progress=False)

    assert report.frames_with_faces == 2 and report.notes == []
    cutout = cv2.imread(str(tmp_path / "out" / "cutout.png"), cv2.IMREAD_UNCHANGED)
    assert cutout.shape == face.shape[:2] + (4,) and (cutout[..., 3] == alpha).all()
    assert (np.abs(cutout[..., :3].astype(np.int16) - face).max(axis=2) > 40).sum() > 300
    written = cv2.imread(str(tmp_path / "out" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16
    unchanged = (written == deep).all(axis=2)
    assert unchanged.mean() > 0.5 and (written[~unchanged] != deep[~unchanged]).any()
