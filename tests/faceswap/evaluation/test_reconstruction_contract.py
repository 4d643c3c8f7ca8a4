"""B -> B reconstruction SSIM (faceswap/evaluation/reconstruction.py), the figure docs/default-model.md
reports: SSIM as Wang et al. 2004 define it, and the model-level score over a real face folder."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.evaluation.passthrough import PassThroughModel
from faceswap.evaluation.reconstruction import reconstruction_ssim, structural_similarity
from faceswap.faces.alignment import FaceLayout
from faceswap.model.runtime import load_swap_model


def test_ssim_of_flat_images_is_the_luminance_term_of_the_paper():
    # Constant images: no variance, so SSIM = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1), C1 = (0.01 L)^2.
    first, second = np.full((32, 32, 3), 0.5), np.full((32, 32, 3), 0.25)
    c1 = 0.01 ** 2
    expected = (2 * 0.5 * 0.25 + c1) / (0.5 ** 2 + 0.25 ** 2 + c1)
    assert structural_similarity(first, second) == pytest.approx(expected, rel=1e-6)
    # The same pictures as uint8 (L = 255) give the same value.
    assert structural_similarity(np.full((32, 32, 3), 200, np.uint8), np.full((32, 32, 3), 100, np.uint8)) == \
        pytest.approx((2 * 200 * 100 + (0.01 * 255) ** 2) / (200 ** 2 + 100 ** 2 + (0.01 * 255) ** 2), rel=1e-6)


def test_ssim_is_one_for_the_same_face_and_falls_with_noise_and_blur(still_path):
    face = cv2.resize(cv2.imread(str(still_path("s0"))), (128, 128), interpolation=cv2.INTER_AREA)
    assert structural_similarity(face, face) == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(0)
    noisy = np.clip(face + rng.normal(0, 12, face.shape), 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(face, (9, 9), 3)
    scores = [structural_similarity(face, other) for other in (noisy, blurred, 255 - face)]
    assert 0.3 < scores[0] < 0.95 and 0.3 < scores[1] < 0.95
    assert scores[2] < 0.0   # the negative: structure anti-correlated
    assert structural_similarity(noisy, face) == pytest.approx(scores[0], abs=1e-12)   # symmetric
    # float [0, 1] input is the same measure as uint8
    assert structural_similarity(face / 255.0, noisy / 255.0) == pytest.approx(scores[0], abs=1e-6)


def test_reconstruction_of_a_face_folder_scores_the_unchanged_face_one_and_a_blur_above_a_flat_fill(test_model_work, test_model_dir):
    folder = test_model_work / "faces_b"
    layout = load_swap_model(test_model_dir).layout
    perfect = reconstruction_ssim(PassThroughModel(layout), folder, limit=6)
    assert perfect == pytest.approx(1.0, abs=1e-9)

    class Blurring(PassThroughModel):
        def swap(self, faces, direction):
            return np.stack([cv2.GaussianBlur(face, (7, 7), 2) for face in super().swap(faces, direction)])

    class Grey(PassThroughModel):
        """Decoder B draws a flat grey; decoder A would give the face back (B -> B must use a2b)."""

        def swap(self, faces, direction):
            return np.full_like(faces, 0.5) if direction == "a2b" else super().swap(faces, direction)

    blurred = reconstruction_ssim(Blurring(layout), folder, limit=6)
    grey = reconstruction_ssim(Grey(layout), folder, limit=6)
    trained = reconstruction_ssim(load_swap_model(test_model_dir), folder, limit=6)
    assert 1.0 > blurred > grey + 0.1
    assert 0.0 < trained < 1.0   # the tiny test model: a real score, no better than its inputs
    # Faces are laid out to the model's size whatever the folder's.
    assert reconstruction_ssim(PassThroughModel(FaceLayout(48, layout.padding_ratio)), folder, limit=2) == \
        pytest.approx(1.0, abs=1e-9)


def test_a_missing_face_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        reconstruction_ssim(PassThroughModel(FaceLayout(64, 0.0)), tmp_path / "no-faces-here")
