"""`convert` swaps faces: with the operator's --no-mark the face region alone changes, so a swap that
never pastes the face cannot hide behind the "AI-generated" mark; the default keeps the mark.
Real pictures and video, the real tiny test model, the real command-line parser."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest

from faceswap.conversion import command
from faceswap.conversion.video_io import read_frames
from faceswap.images import read_image
from faceswap.swapping.watermark import draw_mark


def _run_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.quiet = True
    return command.run(args)


def face_and_background(detector, frame: np.ndarray, grow: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks: inside the face's landmark box; outside that box grown by ``grow`` and away
    from the mark's corner (bottom-right quarter)."""
    [face] = detector.detect(frame)[:1]
    x0, y0 = face.landmarks.min(axis=0)
    x1, y1 = face.landmarks.max(axis=0)
    ys, xs = np.mgrid[: frame.shape[0], : frame.shape[1]]
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    w, h = (x1 - x0) * grow, (y1 - y0) * grow
    near = (xs >= x0 - w) & (xs <= x1 + w) & (ys >= y0 - h) & (ys <= y1 + h)
    corner = (ys >= frame.shape[0] * 3 // 4) & (xs >= frame.shape[1] * 3 // 4)
    return inside, ~near & ~corner


def mark_corner(frame: np.ndarray) -> np.ndarray:
    """The pixels the mark covers on a frame of this size (drawn on a black frame to find them)."""
    probe = np.zeros_like(frame)
    draw_mark(probe)
    return probe.max(axis=2) > 0


@pytest.fixture(scope="module")
def detector():
    from faceswap.faces.detection import FaceDetector

    with FaceDetector() as face_detector:
        yield face_detector


def difference(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    return np.abs(after.astype(np.int16) - before.astype(np.int16)).max(axis=2)


def test_pictures_without_the_mark_change_in_the_face_only(still_path, test_model_dir, tmp_path, detector):
    pictures = tmp_path / "in"
    pictures.mkdir()
    for name in ("s0", "s9"):
        shutil.copyfile(still_path(name), pictures / f"{name}.jpg")

    assert _run_command(str(pictures), str(tmp_path / "unmarked"), "--model-dir", str(test_model_dir),
                        "--no-mark") == 0
    assert _run_command(str(pictures), str(tmp_path / "marked"), "--model-dir", str(test_model_dir)) == 0

    for name in ("s0", "s9"):
        before = read_image(pictures / f"{name}.jpg")
        unmarked = read_image(tmp_path / "unmarked" / f"{name}.jpg")
        marked = read_image(tmp_path / "marked" / f"{name}.jpg")
        inside, background = face_and_background(detector, before)
        changed = difference(unmarked, before)
        noise = changed[background]   # the rest of the picture only carries re-encoding noise
        # The face was replaced: much of its box changed beyond the noise of the rest.
        assert (changed[inside] > np.percentile(noise, 99)).mean() > 0.15, f"{name}: the face was not pasted"
        assert changed[inside].mean() > 2 * noise.mean() + 3
        corner = mark_corner(before) & ~inside
        assert changed[corner].mean() < max(2 * noise.mean(), 4), f"{name}: --no-mark still marked the picture"
        # By default the operator's mark is there, in its corner.
        assert difference(marked, before)[corner].mean() > 20, f"{name}: the default lost the mark"


def test_video_frames_without_the_mark_change_in_the_face_only(clip_with_tone, test_model_dir, tmp_path, detector):
    output = tmp_path / "unmarked.mp4"
    assert _run_command(str(clip_with_tone), str(output), "--model-dir", str(test_model_dir), "--no-mark") == 0
    originals = list(read_frames(clip_with_tone))
    converted = list(read_frames(output))
    assert len(converted) == len(originals) == 12
    for index in (0, 6, 11):
        inside, background = face_and_background(detector, originals[index])
        changed = difference(converted[index], originals[index])
        noise = changed[background]   # H.264 noise only
        assert (changed[inside] > np.percentile(noise, 99)).mean() > 0.2, f"frame {index}: the face was not pasted"
        assert changed[inside].mean() > 4 * noise.mean() + 2
        assert changed[mark_corner(originals[index]) & ~inside].mean() < max(2 * noise.mean(), 4)
