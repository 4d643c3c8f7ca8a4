"""Contact sheet: a PNG that shows a swap, so a person can look as well as read the figures.

One row per sampled frame: the input frame, the output frame, then the face zoomed in from the
input, from the pass-through model (the resolution ceiling) and from the output, with the frame
number and the identity verdict written on the output face. Tiles are uint8 BGR.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from faceswap.images import write_image

COLUMNS = ("input", "output", "input face", "ceiling face", "output face")
HEADER_HEIGHT = 28


def _label(tile: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.45) -> None:
    for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(tile, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, int(round(image.shape[1] * height / image.shape[0])))
    interpolation = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation)


def face_zoom(image: np.ndarray, box: np.ndarray, size: int, margin: float = 0.25) -> np.ndarray:
    """uint8 (size, size, 3): the square around ``box`` (x0, y0, x1, y1 px) grown by ``margin`` per
    side, scaled to ``size`` px (outside the frame repeats the border)."""
    x0, y0, x1, y1 = (float(value) for value in box[:4])
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    scale = size / max(side, 1.0)
    centre_x, centre_y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    matrix = np.array([[scale, 0.0, size / 2.0 - scale * centre_x], [0.0, scale, size / 2.0 - scale * centre_y]])
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


class ContactSheet:
    """Collect rows with ``add`` and write them with ``save``; ``height`` px per row."""

    def __init__(self, title: str, height: int = 160) -> None:
        self.title = title
        self.height = int(height)
        self.rows: list[np.ndarray] = []

    def add(self, frame: np.ndarray, output: np.ndarray, ceiling: np.ndarray, box: np.ndarray | None,
            label: str) -> None:
        """One row from uint8 BGR frames of one size; ``box`` = the input face (None: no zoom tiles);
        ``label``: lines (split at newlines) written at the bottom of the output face."""
        tiles = [_fit_height(frame, self.height), _fit_height(output, self.height)]
        for image in (frame, ceiling, output):
            tiles.append(face_zoom(image, box, self.height) if box is not None
                         else np.zeros((self.height, self.height, 3), np.uint8))
        lines = label.splitlines()
        for number, line in enumerate(lines):
            _label(tiles[-1], line, (4, self.height - 6 - 14 * (len(lines) - 1 - number)), 0.4)
        self.rows.append(np.concatenate(tiles, axis=1))

    def image(self) -> np.ndarray:
        """The sheet, uint8 (H, W, 3) BGR (a header with the title and the column names on top)."""
        if not self.rows:
            raise ValueError("the contact sheet has no rows")
        width = max(row.shape[1] for row in self.rows)
        rows = [np.pad(row, ((0, 2), (0, width - row.shape[1]), (0, 0))) for row in self.rows]
        header = np.full((HEADER_HEIGHT, width, 3), 40, np.uint8)
        _label(header, self.title, (4, 12), 0.4)
        first = self.rows[0]
        frame_width = (first.shape[1] - 3 * self.height) // 2
        lefts = [0, frame_width, 2 * frame_width, 2 * frame_width + self.height, 2 * frame_width + 2 * self.height]
        for left, name in zip(lefts, COLUMNS):
            _label(header, name, (left + 4, HEADER_HEIGHT - 4), 0.4)
        return np.concatenate([header] + rows, axis=0)

    def save(self, path: str | Path) -> Path:
        """Write the sheet as PNG to ``path``; returns the path."""
        path = Path(path)
        write_image(path, self.image())
        return path
