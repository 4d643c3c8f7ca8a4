"""How the "AI-generated" mark is blended (faceswap/swapping/watermark.py): a dark plate of
``mark_opacity`` with white text, out = frame x (1 - opacity) x (1 - text) + 255 x text, to the
8-bit level; the opacity is clamped to [0, 1]."""

from __future__ import annotations

import numpy as np

from faceswap.swapping.watermark import MarkSettings, draw_mark


def marked(value: int, **settings) -> tuple[np.ndarray, np.ndarray]:
    frame = np.full((480, 640, 3), value, np.uint8)
    return draw_mark(frame.copy(), MarkSettings(**settings)), frame


def plate_and_text(result: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    changed = (result != frame).any(axis=2)
    ys, xs = np.nonzero(changed)
    box = result[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return box, changed


def test_the_plate_darkens_by_the_opacity_and_the_text_is_white():
    result, frame = marked(200, mark_opacity=0.6)
    box, _ = plate_and_text(result, frame)
    values, counts = np.unique(box[..., 0], return_counts=True)
    assert values[np.argmax(counts)] == 80                 # 200 x (1 - 0.6), rounded: the plate
    assert box.max() >= 240 and (box >= 200).all(axis=2).sum() > 50   # white (anti-aliased) strokes
    assert (box[..., 0] == box[..., 1]).all() and (box[..., 1] == box[..., 2]).all()   # grey levels only
    half, frame = marked(201, mark_opacity=0.5)
    values, counts = np.unique(plate_and_text(half, frame)[0][..., 0], return_counts=True)
    assert values[np.argmax(counts)] == 101                 # 201 x 0.5 = 100.5, rounded half up


def test_the_opacity_is_clamped_to_zero_and_one():
    black, frame = marked(200, mark_opacity=1.7)
    box, _ = plate_and_text(black, frame)
    values, counts = np.unique(box[..., 0], return_counts=True)
    assert values[np.argmax(counts)] == 0                   # fully dark plate, not a negative one
    assert values.max() >= 240                              # the text stays white
    same, _ = marked(200, mark_opacity=1.0)
    np.testing.assert_array_equal(black, same)
    clear, frame = marked(200, mark_opacity=-0.5)
    untouched = ~plate_and_text(clear, frame)[1]
    assert untouched.sum() > 0.99 * untouched.size          # no plate: only the text is drawn
    np.testing.assert_array_equal(clear, marked(200, mark_opacity=0.0)[0])


def test_fully_inked_text_is_pure_white_and_text_on_white_stays_white():
    """255 x text + frame x (1 - opacity) x (1 - text): on black, fully covered pixels are 255 and
    the rest the coverage; on white with a clear plate, every pixel stays 255 (nothing overflows)."""
    black = np.zeros((1080, 1920, 3), np.uint8)
    draw_mark(black)
    assert black.max() == 255 and (black == 255).sum() > 100
    white = np.full((1080, 1920, 3), 255, np.uint8)
    draw_mark(white, MarkSettings(mark_opacity=0.0))
    assert (white == 255).all()
