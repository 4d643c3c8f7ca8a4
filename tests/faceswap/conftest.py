"""Fixtures for the face/model core tests: one shared MediaPipe detector, real sample frames."""

from __future__ import annotations

import cv2
import pytest


@pytest.fixture(scope="session")
def face_detector():
    from faceswap.faces.detection import FaceDetector

    detector = FaceDetector()
    yield detector
    detector.close()


@pytest.fixture(scope="session")
def clip_frames(clip_path):
    """clip_frames('d9', count=10, step=3) -> list of BGR uint8 frames from a shared clip."""
    def _frames(name: str, count: int = 10, step: int = 1, start: int = 0):
        capture = cv2.VideoCapture(str(clip_path(name)))
        frames, index = [], 0
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            if index >= start and (index - start) % step == 0:
                frames.append(frame)
            index += 1
        capture.release()
        assert frames, name
        return frames
    return _frames
