"""Quality metrics of a face swap on a real clip, with no human in the loop.

For a clip converted with a model (direction a2b by default):

* ``face_kept``: share of frames whose output still has a detectable face, of frames whose input had one;
* ``landmark_error``: mean distance between input and output landmarks over the inter-ocular
  distance (expression and pose kept: lower is better; detector noise alone is ~0.02-0.04);
* ``identity_b_share``: an identity proxy — an OpenCV LBPH face recogniser (cv2.face, from
  opencv-contrib) trained on aligned faces of side A vs side B classifies the output faces;
  the share recognised as B (``input_identity_b_share`` is the same for the input, the baseline);
* ``flicker_ratio``: mean absolute frame-to-frame difference inside the face mask, output over
  input (1.0 = as steady as the source);
* ``reconstruction_ssim``: SSIM of B -> B (encoder + decoder B) on held-out B faces.

Frames are BGR uint8; aligned faces for the recogniser are grey 128 px crops in the extraction layout.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from faceswap.conversion.video_io import probe_video, read_frames
from faceswap.extraction.face_folder import FaceFolder
from faceswap.faces.alignment import (EXTRACT_LAYOUT, align_face, alignment_matrix, relayout_matrix,
                                      transform_points, unalign_image)
from faceswap.faces.detection import FaceDetector
from faceswap.faces.landmarks import inter_ocular_distance
from faceswap.faces.masks import face_mask
from faceswap.faces.smoothing import LandmarkSmoother
from faceswap.images import read_image
from faceswap.settings import setting

logger = logging.getLogger(__name__)

RECOGNISER_SIZE = 128


@dataclass
class QualitySettings:
    direction: str = setting("a2b", "swap direction to evaluate", choices=("a2b", "b2a"))
    max_frames: int = setting(120, "frames of the clip to evaluate (0 = all)")
    recogniser_faces: int = setting(300, "aligned faces per side to train the LBPH recogniser on")
    seed: int = setting(0, "random seed for sampling faces")


def structural_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Mean SSIM (Gaussian 11x11, sigma 1.5) of two uint8 or [0,1] float images of the same shape."""
    first = first.astype(np.float64)
    second = second.astype(np.float64)
    peak = 255.0 if max(first.max(), second.max()) > 1.5 else 1.0
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    blur = lambda image: cv2.GaussianBlur(image, (11, 11), 1.5)
    mu1, mu2 = blur(first), blur(second)
    sigma1 = blur(first * first) - mu1 ** 2
    sigma2 = blur(second * second) - mu2 ** 2
    sigma12 = blur(first * second) - mu1 * mu2
    ssim = ((2 * mu1 * mu2 + c1) * (2 * sigma12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (sigma1 + sigma2 + c2))
    return float(ssim.mean())


def _recogniser_face(image: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
    crop, _ = align_face(image, landmarks68, EXTRACT_LAYOUT)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return cv2.equalizeHist(cv2.resize(grey, (RECOGNISER_SIZE, RECOGNISER_SIZE), interpolation=cv2.INTER_AREA))


def _folder_faces(folders: list[Path], count: int, rng: random.Random) -> list[np.ndarray]:
    files = [folder / name for folder in folders for name in FaceFolder.open(folder).records]
    rng.shuffle(files)
    faces = []
    for path in files[:count]:
        grey = cv2.cvtColor(read_image(path), cv2.COLOR_BGR2GRAY)
        faces.append(cv2.equalizeHist(cv2.resize(grey, (RECOGNISER_SIZE, RECOGNISER_SIZE), interpolation=cv2.INTER_AREA)))
    return faces


def train_identity_recogniser(side_a: list[Path], side_b: list[Path], count: int, seed: int = 0):
    """LBPH recogniser on aligned faces: label 0 = side A, 1 = side B."""
    rng = random.Random(seed)
    faces_a, faces_b = _folder_faces(side_a, count, rng), _folder_faces(side_b, count, rng)
    recogniser = cv2.face.LBPHFaceRecognizer_create()
    recogniser.train(faces_a + faces_b, np.array([0] * len(faces_a) + [1] * len(faces_b), dtype=np.int32))
    return recogniser


def reconstruction_ssim(model, holdout_folder: Path, limit: int = 100) -> float:
    """Mean SSIM of B -> B (direction a2b applied to faces of B = encoder + decoder B) on held-out faces."""
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


def evaluate_clip(clip: str | Path, model, swapper, side_a: list[Path], side_b: list[Path],
                  holdout_b: Path | None = None, settings: QualitySettings | None = None,
                  detector: FaceDetector | None = None, progress: bool = True) -> dict:
    """All metrics of the module docstring for one clip; ``swapper`` is a FrameSwapper over ``model``."""
    settings = settings or QualitySettings()
    detector = detector or FaceDetector()
    info = probe_video(clip)
    recogniser = train_identity_recogniser(side_a, side_b, settings.recogniser_faces, settings.seed)
    target_label = 1 if settings.direction == "a2b" else 0
    smoother = LandmarkSmoother()
    with_face = kept = 0
    errors, identity_out, identity_in = [], [], []
    flicker_out, flicker_in = [], []
    previous = None
    total = settings.max_frames or info.frame_count
    for index, frame in enumerate(tqdm(read_frames(clip), total=total, desc="quality", disable=not progress)):
        if settings.max_frames and index >= settings.max_frames:
            break
        faces = detector.detect(frame)
        if not faces:
            previous = None
            continue
        with_face += 1
        output = swapper.swap_frame(frame, settings.direction, smoother=smoother, timestamp_s=index / info.fps).frame
        source = faces[0].landmarks
        identity_in.append(recogniser.predict(_recogniser_face(frame, source))[0] == target_label)
        out_faces = detector.detect(output)
        if out_faces:
            kept += 1
            errors.append(float(np.linalg.norm(out_faces[0].landmarks - source, axis=1).mean() / inter_ocular_distance(source)))
        identity_out.append(recogniser.predict(_recogniser_face(output, source))[0] == target_label)
        matrix = alignment_matrix(source, EXTRACT_LAYOUT)
        mask = unalign_image(face_mask(transform_points(source, matrix), EXTRACT_LAYOUT.size), matrix, frame.shape) > 0.5
        if previous is not None:
            both = mask & previous[2]
            if both.any():
                flicker_out.append(np.abs(output.astype(np.int16) - previous[1].astype(np.int16))[both].mean())
                flicker_in.append(np.abs(frame.astype(np.int16) - previous[0].astype(np.int16))[both].mean())
        previous = (frame, output, mask)
    result = {
        "clip": Path(clip).name,
        "direction": settings.direction,
        "frames_with_face": with_face,
        "face_kept": kept / with_face if with_face else None,
        "landmark_error": float(np.mean(errors)) if errors else None,
        "identity_b_share": float(np.mean(identity_out)) if identity_out else None,
        "input_identity_b_share": float(np.mean(identity_in)) if identity_in else None,
        "flicker_ratio": float(np.mean(flicker_out) / max(np.mean(flicker_in), 1e-6)) if flicker_in else None,
    }
    if settings.direction == "b2a":
        result["identity_a_share"] = result.pop("identity_b_share")
        result["input_identity_a_share"] = result.pop("input_identity_b_share")
    if holdout_b is not None:
        result["reconstruction_ssim"] = reconstruction_ssim(model, Path(holdout_b))
    return result
