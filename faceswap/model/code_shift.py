"""The code shift: move a face's code towards the target's before decoder B draws it.

The shared encoder maps every face to a code (lite96: float32 (12, 12, 128)); decoder B draws
the target person from it. Codes of faces the model never saw fall between side A's and side B's,
and decoder B then draws a face that is partly the user. The shift adds ``strength`` x (mean code
of side B's training faces - mean code of side A's) to the code on the ``a2b`` path: the
attribute-vector arithmetic of Larsen et al. ("Autoencoding beyond pixels using a learned
similarity metric", ICML 2016, "visual attribute vectors") and White ("Sampling Generative
Networks", 2016), with "is the target" as the attribute. At inference it does what DeepFaceLab's
true face power does in training (push A's codes towards B's), at no training cost and one add per
face; the benchmark on held-out people measured it (docs/default-model.md). ``b2a`` is never
shifted: side A is "any face", it has no identity to move towards.

The shift is a property of the trained weights and of their training faces: export computes it
from the checkpoint's face folders (faceswap/export/exporter.py ``checkpoint_code_shift``,
``--code-shift``) and bakes it into the exported graphs (``Autoencoders.swap_model``), so serving
needs nothing else; the benchmark scripts compute it the same way for Keras snapshots.
"""

from __future__ import annotations

import numpy as np

SHIFTED_DIRECTION = "a2b"


def mean_code(encoder, faces: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Mean of ``encoder``'s codes of ``faces`` (BGR float32 (N, S, S, 3) in [0, 1], N >= 1):
    float32 of the code's shape (lite96: (12, 12, 128)). ValueError for no faces."""
    faces = np.asarray(faces, dtype=np.float32)
    if faces.ndim != 4 or not len(faces):
        raise ValueError("mean_code needs a batch of at least one face (N, S, S, 3)")
    total = None
    for start in range(0, len(faces), batch_size):
        codes = np.asarray(encoder(faces[start:start + batch_size], training=False), dtype=np.float64)
        total = codes.sum(axis=0) if total is None else total + codes.sum(axis=0)
    return (total / len(faces)).astype(np.float32)


def code_shift(encoder, faces_a: np.ndarray, faces_b: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` x (mean code of ``faces_b`` - mean code of ``faces_a``): float32 of the code's
    shape, to add to every code on the a2b path. Faces: BGR float32 (N, S, S, 3) in [0, 1].
    ValueError for a side without faces or a negative / non-finite strength."""
    if not (np.isfinite(strength) and strength >= 0):
        raise ValueError(f"the code shift's strength is 0 (off) or more, not {strength}")
    return (np.float32(strength) * (mean_code(encoder, faces_b) - mean_code(encoder, faces_a))).astype(np.float32)
