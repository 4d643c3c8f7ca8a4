"""The pass-through model: a swap model that returns its aligned input crop unchanged.

Run through the very same FrameSwapper as a real model (detection, alignment, mask, colour
transfer, blending, paste-back), it shows what the pipeline itself keeps of a face at a given
crop size: the **resolution ceiling** of detail that no model of that input size can beat. It is
also the "model that changed nothing" of the tests: its output must be judged the source person.

It has the interface FrameSwapper uses of ``faceswap.model.runtime.SwapModel``: ``input_size``,
``layout`` (FaceLayout), ``manifest``, ``backend`` and ``swap(faces, direction)``.
"""

from __future__ import annotations

import numpy as np

from faceswap.errors import InputError
from faceswap.faces.alignment import FaceLayout
from faceswap.model.runtime import DIRECTIONS


class PassThroughModel:
    """Identity "swap" at ``layout`` (e.g. the real model's layout, or a larger size to see how far
    the ceiling rises with resolution)."""

    backend = "pass-through"

    def __init__(self, layout: FaceLayout) -> None:
        self.layout = layout
        self.input_size = int(layout.size)
        self.manifest = {"config": "pass-through", "input_size": self.input_size, "layout": layout.to_dict()}

    @classmethod
    def like(cls, model, size: int = 0) -> "PassThroughModel":
        """A pass-through with ``model``'s layout, or the same padding at ``size`` px when size > 0."""
        layout = model.layout
        return cls(FaceLayout(int(size), layout.padding_ratio) if size > 0 else layout)

    def swap(self, faces: np.ndarray, direction: str) -> np.ndarray:
        """faces BGR float32 (N, S, S, 3) in [0, 1] -> a float32 copy of the same faces, clipped to [0, 1].

        InputError for an unknown direction or faces of the wrong shape (as SwapModel.swap).
        """
        if direction not in DIRECTIONS:
            raise InputError(f"direction must be 'a2b' or 'b2a', not {direction!r}")
        faces = np.asarray(faces)
        size = self.input_size
        if faces.ndim != 4 or faces.shape[1:] != (size, size, 3):
            raise InputError(f"faces must be an (N, {size}, {size}, 3) array, not {faces.shape}")
        return np.clip(faces.astype(np.float32, copy=True), 0.0, 1.0)

    def __repr__(self) -> str:
        return f"PassThroughModel(input_size={self.input_size}, layout={self.layout.to_dict()})"
