"""The visible "AI-generated" mark drawn on every merged (synthetic) frame.

A frame whose face was replaced is synthetic media; the mark tells a viewer so. It is a white label
on a semi-transparent dark plate in one corner, sized from the frame so it stays readable from
640x480 webcam frames down to thumbnails: when the full text would be too small to read, the
label falls back to "AI". Frames that were not changed (no face) are not synthetic and get no
mark — FrameSwapper decides that, this module only draws.

The label for a frame size is rendered once and cached; drawing it is a blend over a patch of a
few thousand pixels. Frames are ``uint8 (H, W, 3)`` **BGR** and are modified in place.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from faceswap.errors import InputError
from faceswap.settings import setting

MARK_CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_SHORT_TEXT = "AI"
_MIN_TEXT_HEIGHT_PX = 8        # below this Hershey glyphs stop being legible
_TEXT_HEIGHT_RATIO = 0.032     # text cap height as a share of the shorter frame side
_MAX_WIDTH_RATIO = 0.6         # the label never covers more than this share of the frame width
_STROKE_PX_PER_SCALE = 1.4     # stroke thickness per unit of font scale (about 1/16 of the text height)
# Text height of the font at scale 1, the same for every text (the font's cap and base lines).
_TEXT_HEIGHT_AT_SCALE_1 = cv2.getTextSize(_SHORT_TEXT, _FONT, 1.0, 1)[0][1]


@dataclass
class MarkSettings:
    """How the "AI-generated" mark looks (whether it is drawn is a SwapSettings choice)."""

    mark_text: str = setting("AI-generated", "text of the visible mark on merged frames")
    mark_corner: str = setting("bottom-right", "corner of the frame that carries the mark", choices=MARK_CORNERS)
    mark_opacity: float = setting(0.6, "opacity of the dark plate behind the mark text, 0..1")


@dataclass(frozen=True)
class _RenderedMark:
    """A label ready to blend: out = patch * keep + add, at rows top:top+h, columns left:left+w."""

    top: int
    left: int
    keep: np.ndarray   # float32 (h, w, 3): share of the original pixel kept
    add: np.ndarray    # float32 (h, w, 3): white text contribution, 0..255


def _stroke_thickness(scale: float) -> int:
    """Stroke thickness in px for a font scale: at least 1."""
    return max(1, round(scale * _STROKE_PX_PER_SCALE))


def _label_layout(text: str, frame_width: int, frame_height: int) -> tuple[str, float, int]:
    """Pick (text, font scale, thickness) so the label is readable and fits the frame."""
    text_height = max(_MIN_TEXT_HEIGHT_PX, round(min(frame_width, frame_height) * _TEXT_HEIGHT_RATIO))
    scale = text_height / _TEXT_HEIGHT_AT_SCALE_1
    (width, _), _ = cv2.getTextSize(text, _FONT, scale, _stroke_thickness(scale))
    scale *= min(1.0, frame_width * _MAX_WIDTH_RATIO / width)   # a text too long is drawn smaller
    if scale * _TEXT_HEIGHT_AT_SCALE_1 < _MIN_TEXT_HEIGHT_PX and text != _SHORT_TEXT:
        return _label_layout(_SHORT_TEXT, frame_width, frame_height)
    return text, scale, _stroke_thickness(scale)


def _render_label(frame_width: int, frame_height: int, text: str, corner: str, opacity: float) -> _RenderedMark | None:
    text, scale, thickness = _label_layout(text, frame_width, frame_height)
    (text_width, text_height), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    pad = max(2, round(text_height * 0.35))
    margin = max(1, round(text_height * 0.4))
    width = min(text_width + 2 * pad, frame_width)
    height = min(text_height + baseline + 2 * pad, frame_height)
    if width <= 0 or height <= 0:
        return None
    text_alpha = np.zeros((height, width), dtype=np.uint8)
    cv2.putText(text_alpha, text, (pad, pad + text_height), _FONT, scale, 255, thickness, cv2.LINE_AA)
    text_share = (text_alpha / np.float32(255.0))[..., None]      # float32, and so are keep and add
    keep = (1.0 - opacity) * (1.0 - text_share)
    add = 255.0 * text_share
    top = margin if corner.startswith("top") else frame_height - height - margin
    left = margin if corner.endswith("left") else frame_width - width - margin
    # Three channels stored, so that drawing combines (h, w, 3) arrays plane-wise instead of
    # broadcasting (h, w, 1) over the channel axis (~10x slower in numpy; issue 10).
    return _RenderedMark(max(top, 0), max(left, 0), np.repeat(keep, 3, axis=2), np.repeat(add, 3, axis=2))


# Cached by wrapping rather than decorating: mutmut leaves decorated functions unmutated.
_render = functools.lru_cache(maxsize=32)(_render_label)


def draw_mark(frame: np.ndarray, settings: MarkSettings | None = None) -> np.ndarray:
    """Draw the visible mark on ``frame`` in place and return it.

    frame: uint8 (H, W, 3) BGR. The label sits in ``settings.mark_corner``; its size follows the
    frame's shorter side (about 3 % of it, never under 8 px of text height).
    """
    settings = settings or MarkSettings()
    if settings.mark_corner not in MARK_CORNERS:
        raise InputError(f"unknown mark corner {settings.mark_corner!r}: expected one of {', '.join(MARK_CORNERS)}")
    height, width = frame.shape[:2]
    opacity = float(min(max(settings.mark_opacity, 0.0), 1.0))
    rendered = _render(width, height, settings.mark_text or _SHORT_TEXT, settings.mark_corner, opacity)
    if rendered is None:
        return frame
    patch_height, patch_width = rendered.keep.shape[:2]
    patch = frame[rendered.top:rendered.top + patch_height, rendered.left:rendered.left + patch_width]
    blended = patch * rendered.keep[: patch.shape[0], : patch.shape[1]]   # float32
    blended += rendered.add[: patch.shape[0], : patch.shape[1]]
    # keep + add / 255 <= 1, so the values lie in [0.5, 255.5]: no clipping; storing them in the
    # uint8 frame truncates, which the + 0.5 makes a rounding.
    blended += 0.5
    patch[...] = blended
    return frame
