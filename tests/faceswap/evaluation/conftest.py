"""Fixtures for the quality benchmark tests: the real dlib recogniser, the target person (the
held-out tail of d6, few faces to stay fast) and benchmarks over real or pass-through models."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def recogniser():
    from faceswap.evaluation.identity import FaceRecogniser

    return FaceRecogniser()


@pytest.fixture(scope="session")
def d6_target(recogniser, face_detector, clip_path):
    """TargetIdentity of d6 frames 900+ (8 faces)."""
    from faceswap.evaluation.identity import load_target_identity

    return load_target_identity(clip_path("d6"), recogniser, face_detector, first_frame=900, max_faces=8)


@pytest.fixture(scope="session")
def make_benchmark(recogniser, face_detector):
    """make_benchmark(model, target, **settings) -> QualityBenchmark over the shared detector."""
    from faceswap.evaluation.benchmark import QualityBenchmark, QualitySettings

    def _make(model, target, **settings):
        settings.setdefault("max_frames", 6)
        settings.setdefault("sheet_rows", 2)
        return QualityBenchmark(model, target, face_detector, recogniser, QualitySettings(**settings))
    return _make
