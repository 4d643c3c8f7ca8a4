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
