"""The visible "AI-generated" mark: drawn in its corner only, at webcam and thumbnail sizes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.images import read_image
from faceswap.swapping.watermark import MarkSettings, draw_mark


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(before.astype(np.int16) - after).max(axis=2) > 0


@pytest.mark.parametrize("size", [(640, 480), (160, 120), (64, 48)])
def test_mark_changes_only_the_bottom_right_corner(still_path, size):
    frame = cv2.resize(read_image(still_path("s3")), size, interpolation=cv2.INTER_AREA)
    before = frame.copy()

    assert draw_mark(frame) is frame

    changed = _changed(before, frame)
    width, height = size
    rows, columns = np.nonzero(changed)
    assert changed.sum() > 0.005 * width * height
    assert rows.min() >= height // 2 and columns.min() >= width // 3
    # white text on a dark plate: some marked pixels get brighter, many darker
    brighter = frame.astype(np.int16).sum(axis=2) > before.astype(np.int16).sum(axis=2) + 60
    assert brighter[changed].sum() > 10


def test_mark_at_640x480_is_large_enough_to_read(still_path):
    frame = cv2.resize(read_image(still_path("s3")), (640, 480))
    before = frame.copy()
    draw_mark(frame)
    rows, columns = np.nonzero(_changed(before, frame))
    assert rows.max() - rows.min() >= 18  # plate height: text of about 15 px
    assert columns.max() - columns.min() >= 100


def test_mark_corner_can_be_chosen(still_path):
    frame = cv2.resize(read_image(still_path("s3")), (320, 240))
    before = frame.copy()
    draw_mark(frame, MarkSettings(mark_corner="top-left"))
    rows, columns = np.nonzero(_changed(before, frame))
    assert rows.max() < 120 and columns.max() < 240


def test_unknown_corner_is_a_clear_error(still_path):
    frame = read_image(still_path("s3"))
    with pytest.raises(InputError, match="unknown mark corner 'middle'"):
        draw_mark(frame, MarkSettings(mark_corner="middle"))
