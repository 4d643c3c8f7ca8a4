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
    with pytest.raises(InputError) as raised:
        draw_mark(frame, MarkSettings(mark_corner="middle"))
    assert str(raised.value) == ("unknown mark corner 'middle': expected one of "
                                 "bottom-right, bottom-left, top-right, top-left")


LONG_TEXT = "AI-generated: the face in this video was replaced by software"     # 61 characters
LONGER_TEXT = "AI-generated: the face in this video stream was replaced by software"


def text_ink(width: int, height: int, text: str = "AI-generated") -> tuple[float, int, int]:
    """Mark a black frame: (ink per px of text width, text width, text height) in px; on black
    the plate stays black and each pixel is the text's coverage."""
    frame = np.zeros((height, width, 3), np.uint8)
    draw_mark(frame, MarkSettings(mark_text=text))
    ink = frame[..., 0].astype(np.float64) / 255.0
    rows, columns = np.nonzero(ink)
    text_width = columns.max() - columns.min() + 1
    return ink.sum() / text_width, text_width, rows.max() - rows.min() + 1


@pytest.mark.parametrize("width,height,text,stroke_px", [
    (640, 480, "AI-generated", 1),
    (1920, 1080, "AI-generated", 2),
    (1920, 1080, LONG_TEXT, 2),       # drawn smaller to fit, still 2 px
    (1920, 1080, LONGER_TEXT, 1),     # drawn smaller still: 1 px
])
def test_the_strokes_thicken_with_the_text(width, height, text, stroke_px):
    """Strokes about 1.4 px per unit of font scale (1/16 of the text height), at least 1 px:
    a 1 px stroke leaves about 3 px of ink per px of text width, a 2 px one about 8.5."""
    ink_per_px, _, _ = text_ink(width, height, text)
    low, high = {1: (2.3, 4.5), 2: (7.0, 10.0)}[stroke_px]
    assert low < ink_per_px < high, ink_per_px


def test_a_long_text_is_drawn_smaller_to_fit_the_frame():
    """The text never covers more than 60 % of the frame width; a long one is scaled to just that."""
    _, short_width, short_height = text_ink(1920, 1080)
    _, long_width, long_height = text_ink(1920, 1080, LONG_TEXT)
    assert short_width < 0.4 * 1920                     # the default text has room to spare
    assert 0.57 * 1920 < long_width <= 0.6 * 1920
    assert long_height < 0.8 * short_height


def test_the_full_text_is_kept_down_to_8_px_text():
    """At 320x240 the text is exactly 8 px, the legibility floor: still the full text, not "AI"."""
    _, text_width, _ = text_ink(320, 240)
    assert text_width > 60
    _, short_width, _ = text_ink(120, 90)              # would have to shrink under 8 px: "AI" instead
    assert short_width < 20


def plate_and_ink(width: int, height: int, corner: str) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """Mark a uniform grey frame: the plate's and the text's (x0, y0, x1, y1), end-exclusive."""
    frame = np.full((height, width, 3), 200, np.uint8)
    draw_mark(frame, MarkSettings(mark_corner=corner, mark_opacity=0.6))
    changed = frame[..., 0] != 200
    boxes = []
    for pixels in (changed, changed & (frame[..., 0] > 80)):     # the plate is 200 x 0.4 = 80
        rows, columns = np.nonzero(pixels)
        boxes.append((columns.min(), rows.min(), columns.max() + 1, rows.max() + 1))
    return boxes[0], boxes[1]


@pytest.mark.parametrize("width,height", [(640, 480), (1920, 1080)])
@pytest.mark.parametrize("corner", ["bottom-right", "bottom-left", "top-right", "top-left"])
def test_the_plate_keeps_a_margin_from_its_corner_and_pads_the_text_evenly(width, height, corner):
    (x0, y0, x1, y1), (ink_x0, _, ink_x1, _) = plate_and_ink(width, height, corner)
    gap_x = x0 if corner.endswith("left") else width - x1
    gap_y = y0 if corner.startswith("top") else height - y1
    assert gap_x == gap_y and 0.15 < gap_x / (y1 - y0) < 0.25, (gap_x, gap_y, y1 - y0)   # about 0.4 x the text height
    left_pad, right_pad = ink_x0 - x0, x1 - ink_x1        # the text's own width reaches a little past its ink
    assert 0 < left_pad and abs(right_pad - left_pad) <= 0.5 * left_pad, (left_pad, right_pad)


def test_a_frame_smaller_than_the_label_is_all_plate_and_a_1_px_frame_is_marked_too():
    for width, height in ((16, 12), (1, 1)):
        frame = np.full((height, width, 3), 200, np.uint8)
        draw_mark(frame)                                    # the plate: 200 x (1 - 0.6) = 80
        assert (frame[0] == 80).all() and (frame[:, 0] == 80).all(), (width, height)   # from edge to edge
    for empty in (np.zeros((0, 10, 3), np.uint8), np.zeros((10, 0, 3), np.uint8)):
        assert draw_mark(empty) is empty                    # nothing to draw on: returned as it is
