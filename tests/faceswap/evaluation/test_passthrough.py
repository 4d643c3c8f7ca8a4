"""The pass-through model: a real swap-model object that changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.evaluation.passthrough import PassThroughModel
from faceswap.faces.alignment import FaceLayout


def test_it_returns_its_input_crop_unchanged():
    model = PassThroughModel(FaceLayout(64, 0.0))
    faces = np.random.default_rng(0).random((3, 64, 64, 3), dtype=np.float32)
    out = model.swap(faces, "a2b")
    assert out.dtype == np.float32 and out is not faces
    np.testing.assert_array_equal(out, faces)


def test_it_takes_a_models_layout_or_another_size():
    class Model:
        layout = FaceLayout(64, 0.1)

    assert PassThroughModel.like(Model()).layout == FaceLayout(64, 0.1)
    larger = PassThroughModel.like(Model(), size=256)
    assert larger.input_size == 256 and larger.layout == FaceLayout(256, 0.1)


def test_it_refuses_what_a_swap_model_refuses():
    model = PassThroughModel(FaceLayout(64, 0.0))
    with pytest.raises(InputError, match="direction"):
        model.swap(np.zeros((1, 64, 64, 3), np.float32), "sideways")
    with pytest.raises(InputError, match=r"\(N, 64, 64, 3\)"):
        model.swap(np.zeros((1, 32, 32, 3), np.float32), "a2b")
