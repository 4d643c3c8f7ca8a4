"""Preview grid written during training: one row per preview face, six columns

    A | A->A | A->B | B | B->B | B->A

(the face, its reconstruction by its own decoder, and its swap to the other identity), so a
person can judge at a glance whether reconstruction and swap are getting sharp.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.images import encode_png
from faceswap.training.checkpoint import atomic_write_bytes

COLUMNS = ("A", "A->A", "A->B", "B", "B->B", "B->A")


def preview_grid(faces_a: np.ndarray, reconstructed_a: np.ndarray, swapped_a: np.ndarray,
                 faces_b: np.ndarray, reconstructed_b: np.ndarray, swapped_b: np.ndarray,
                 cell_size: int = 128) -> np.ndarray:
    """All inputs BGR float32 (N, S, S, 3) in [0, 1] (same N); returns a BGR uint8 grid image
    (header + N rows of 6 cells of ``cell_size`` px)."""
    columns = (faces_a, reconstructed_a, swapped_a, faces_b, reconstructed_b, swapped_b)
    rows = []
    for row in range(len(faces_a)):
        cells = [cv2.resize(np.clip(column[row], 0.0, 1.0), (cell_size, cell_size), interpolation=cv2.INTER_CUBIC)
                 for column in columns]
        rows.append(np.concatenate(cells, axis=1))
    grid = (np.clip(np.concatenate(rows, axis=0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    header = np.full((24, grid.shape[1], 3), 32, dtype=np.uint8)
    for index, title in enumerate(COLUMNS):
        cv2.putText(header, title, (index * cell_size + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return np.concatenate([header, grid], axis=0)


def write_preview(path, grid: np.ndarray) -> None:
    """Write the grid (BGR uint8) as PNG atomically (a viewer never sees half a file)."""
    data = encode_png(grid)
    atomic_write_bytes(path, lambda handle: handle.write(data))
