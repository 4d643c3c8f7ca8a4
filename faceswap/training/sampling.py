"""Which faces go into a batch: balanced over identities and head yaw.

Side A of an "any face -> target" model is lopsided: a 350-frame clip of one person next to a
single photo of another. Drawing faces uniformly would teach the shared encoder mostly the
people with long clips, and mostly frontal poses. Batches are therefore drawn so that every
identity is equally likely, and within an identity every yaw bin it has (the head turned
left ... right) is equally likely; faces inside one (identity, yaw bin) are equally likely.
This follows DeepFaceLab's ``uniform_yaw`` sample generator (yaw bins) applied per identity.

Yaw is estimated from the 68 landmarks in the aligned crop: the horizontal offset of the nose
tip (point 30) from the midpoint of the outer eye corners (36, 45), divided by the inter-ocular
distance — about 0 frontal, about +-0.3 at 30-40 degrees.

Draws are a pure function of (seed, side, iteration) so a resumed run sees the same batches.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

YAW_BIN_EDGES = (-0.25, -0.08, 0.08, 0.25)


def yaw_proxy(landmarks68: np.ndarray) -> np.ndarray:
    """(N, 68, 2) landmarks (px, any frame) -> (N,) float: nose offset / inter-ocular distance
    (negative: nose left of the eye midpoint in the image)."""
    landmarks = np.asarray(landmarks68, dtype=np.float64)
    left, right, nose = landmarks[:, 36], landmarks[:, 45], landmarks[:, 30]
    inter_ocular = np.maximum(np.linalg.norm(right - left, axis=1), 1e-6)
    return (nose[:, 0] - (left[:, 0] + right[:, 0]) / 2.0) / inter_ocular


def balanced_probabilities(identities: list[str], landmarks68: np.ndarray,
                           yaw_bin_edges: tuple[float, ...] = YAW_BIN_EDGES) -> np.ndarray:
    """(N,) float64 probabilities summing to 1: 1/identities x 1/(yaw bins of that identity) x
    1/(faces in that identity's bin). ValueError if ``identities`` and landmarks differ in length."""
    if len(identities) != len(landmarks68):
        raise ValueError(f"{len(identities)} identities for {len(landmarks68)} faces")
    bins = np.digitize(yaw_proxy(landmarks68), yaw_bin_edges)
    cells = Counter(zip(identities, bins.tolist()))
    bins_per_identity = Counter(identity for identity, _ in cells)
    people = len(bins_per_identity)
    probabilities = np.array([1.0 / (people * bins_per_identity[identity] * cells[(identity, b)])
                              for identity, b in zip(identities, bins.tolist())])
    return probabilities / probabilities.sum()


def balanced_indices(probabilities: np.ndarray, batch_size: int, seed: int, side_index: int,
                     iteration: int) -> np.ndarray:
    """(batch_size,) int64 face indices of batch ``iteration``, drawn with replacement."""
    rng = np.random.default_rng([seed, side_index, 3, iteration])
    return rng.choice(len(probabilities), size=batch_size, replace=True, p=probabilities)
