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

**The subspace map** (``code_map``, export ``--code-subspace K``, since session 21): the mean shift
moves a code 3.4 along one line, but the codes of people the model never saw lie 13.5-24 from side
B's mean code against her own faces' 10.5 (lite96, docs/default-model.md). The map also takes the
part of a code that side B's footage never spans half the way out: with P the top ``K`` principal
directions of side B's training codes (rows, orthonormal; principal component analysis, Pearson
1901 / Hotelling 1933), a face's code c is moved ``strength`` of the way to

    mu_B + P^T P (c - mu_A)

its offset from side A's mean code (what this face does: pose, expression, light, as far as B's
own variation spans it) put on side B's mean code. Strength 0.5 with K 8 brought every one of ten
held-out people closer to the target (mean distance on the four of issue 9 0.487 -> 0.472 as
exported, 0.486 -> 0.475 read with the Keras weights) at a cost to one person's head turn (v17's
yaw); the figures are in docs/default-model.md, session 21. The map needs K >= 1 (with no
directions it would pull every code onto side B's mean); export's ``--code-subspace 0`` keeps the
plain mean shift above instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHIFTED_DIRECTION = "a2b"


@dataclass(frozen=True)
class CodeMap:
    """An affine map of codes: ``c' = scale * c + strength * (c . basis^T) basis + offset``, with
    c flattened to D numbers. offset: float32 of the code's shape; basis: float32 (K, D), orthonormal
    rows; scale, strength: floats; mean_shift: float32 of the code's shape, how far the map moves
    side A's mean code (the plain ``code_shift`` at the same strength). Made by ``code_map``; baked
    into the a2b graph by faceswap.model.architecture.Autoencoders.swap_model."""

    offset: np.ndarray
    basis: np.ndarray
    scale: float
    strength: float
    mean_shift: np.ndarray

    def apply(self, codes: np.ndarray) -> np.ndarray:
        """The map of ``codes`` (float (N, *code shape)): float32 of the same shape."""
        codes = np.asarray(codes, dtype=np.float64)
        if codes.shape[1:] != self.offset.shape:
            raise ValueError(f"the code map takes codes of shape (N, {', '.join(map(str, self.offset.shape))}), "
                             f"not {codes.shape}")
        flat = codes.reshape(len(codes), self.offset.size)
        moved = self.scale * flat + self.strength * (flat @ self.basis.T.astype(np.float64)) @ self.basis
        return (moved + self.offset.reshape(1, -1)).reshape(codes.shape).astype(np.float32)


def mean_code(encoder, faces: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Mean of ``encoder``'s codes of ``faces`` (BGR float32 (N, S, S, 3) in [0, 1], N >= 1):
    float32 of the code's shape (lite96: (12, 12, 128)). ValueError for no faces."""
    faces = np.asarray(faces, dtype=np.float32)
    if faces.ndim != 4 or not len(faces):
        raise ValueError("mean_code needs a batch of at least one face (N, S, S, 3)")
    return codes_of(encoder, faces, batch_size).astype(np.float64).mean(axis=0).astype(np.float32)


def codes_of(encoder, faces: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """``encoder``'s codes of ``faces`` (BGR float32 (N, S, S, 3) in [0, 1]): float32 (N, *code shape)."""
    faces = np.asarray(faces, dtype=np.float32)
    return np.concatenate([np.asarray(encoder(faces[start:start + batch_size], training=False), dtype=np.float32)
                           for start in range(0, len(faces), batch_size)])


def code_map(encoder, faces_a: np.ndarray, faces_b: np.ndarray, strength: float, dimensions: int) -> CodeMap:
    """The subspace map (module docstring) at ``strength`` with side B's top ``dimensions`` principal
    directions, measured on the training faces (BGR float32 (N, S, S, 3) in [0, 1]). ValueError for a
    side without faces, a negative / non-finite strength, or ``dimensions`` not in 1 .. (side B's
    faces - 1)."""
    if not (np.isfinite(strength) and strength >= 0):
        raise ValueError(f"the code map's strength is 0 (off) or more, not {strength}")
    faces_b = np.asarray(faces_b, dtype=np.float32)
    if faces_b.ndim != 4 or not len(faces_b):
        raise ValueError("code_map needs a batch of at least one side-B face (N, S, S, 3)")
    if isinstance(dimensions, bool) or int(dimensions) != dimensions or not 1 <= dimensions < len(faces_b):
        raise ValueError(f"the code map keeps 1 to (side B's faces - 1) = {len(faces_b) - 1} directions, "
                         f"not {dimensions}")
    mean_a = mean_code(encoder, faces_a).astype(np.float64).reshape(-1)
    codes_b = codes_of(encoder, faces_b).astype(np.float64)
    shape = codes_b.shape[1:]
    codes_b = codes_b.reshape(len(codes_b), -1)
    mean_b = codes_b.mean(axis=0)
    basis = np.linalg.svd(codes_b - mean_b, full_matrices=False)[2][:int(dimensions)]
    # (1 - s) c + s (mu_B + P^T P (c - mu_A)) = (1 - s) c + s P^T P c + s (mu_B - P^T P mu_A)
    offset = strength * (mean_b - (basis @ mean_a) @ basis)
    return CodeMap(offset=offset.reshape(shape).astype(np.float32), basis=basis.astype(np.float32),
                   scale=float(1.0 - strength), strength=float(strength),
                   mean_shift=(strength * (mean_b - mean_a)).reshape(shape).astype(np.float32))


def code_shift(encoder, faces_a: np.ndarray, faces_b: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` x (mean code of ``faces_b`` - mean code of ``faces_a``): float32 of the code's
    shape, to add to every code on the a2b path. Faces: BGR float32 (N, S, S, 3) in [0, 1].
    ValueError for a side without faces or a negative / non-finite strength."""
    if not (np.isfinite(strength) and strength >= 0):
        raise ValueError(f"the code shift's strength is 0 (off) or more, not {strength}")
    return (np.float32(strength) * (mean_code(encoder, faces_b) - mean_code(encoder, faces_a))).astype(np.float32)
