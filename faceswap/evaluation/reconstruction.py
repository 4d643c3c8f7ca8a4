"""B -> B reconstruction: how well the model redraws held-out faces of its own target (SSIM).

Direction a2b applied to faces of B is encoder + decoder B, i.e. an autoencoder reconstruction;
its mean SSIM (Wang et al., "Image quality assessment: from error visibility to structural
similarity", IEEE TIP 2004; Gaussian 11x11 window, sigma 1.5) on faces the model never trained on
says how much of B's detail the decoder can draw at all.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from faceswap.extraction.face_folder import FaceFolder
from faceswap.faces.alignment import relayout_matrix
from faceswap.images import read_image


def structural_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Mean SSIM of two uint8 or [0, 1] float images of the same shape (any channel order)."""
    first = first.astype(np.float64)
    second = second.astype(np.float64)
    peak = 255.0 if max(first.max(), second.max()) > 1.5 else 1.0
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5)

    mu1, mu2 = blur(first), blur(second)
    sigma1 = blur(first * first) - mu1 ** 2
    sigma2 = blur(second * second) - mu2 ** 2
    sigma12 = blur(first * second) - mu1 * mu2
    ssim = ((2 * mu1 * mu2 + c1) * (2 * sigma12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (sigma1 + sigma2 + c2))
    return float(ssim.mean())


def reconstruction_ssim(model, holdout_folder: Path, limit: int = 100) -> float:
    """Mean SSIM of B -> B on up to ``limit`` faces of a face folder (faceswap.extraction) of B.

    model: a SwapModel; faces are re-laid out from the folder's layout to the model's (INTER_AREA).
    Raises InputError (from FaceFolder) for a missing or corrupt folder.
    """
    folder = FaceFolder.open(holdout_folder)
    matrix = relayout_matrix(folder.layout, model.layout)
    scores = []
    names = sorted(folder.records)[:limit]
    for start in range(0, len(names), 16):
        batch = [cv2.warpAffine(read_image(folder.path / name), matrix, (model.input_size, model.input_size),
                                flags=cv2.INTER_AREA) for name in names[start:start + 16]]
        faces = np.stack(batch).astype(np.float32) / 255.0
        outputs = model.swap(faces, "a2b")
        scores.extend(structural_similarity(face, output) for face, output in zip(faces, outputs))
    return float(np.mean(scores))
