"""Extract aligned faces from videos and pictures into a face folder (see face_folder.py).

Each frame (every ``every_n_frames``-th of a video) goes through the face detector; the largest
``max_faces`` faces of at least ``min_face_size`` px are aligned to the extraction layout
(classic 256 px / 48 px padding) and written as PNG with their landmarks in crop coordinates
and an identity (extraction/identities.py; group photos: every face above the minimum size
with ``--max-faces``, each face its own person).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from faceswap.conversion.video_io import VIDEO_SUFFIXES, probe_video, read_frames
from faceswap.errors import InputError
from faceswap.extraction.face_folder import FaceFolder, FaceRecord
from faceswap.extraction.identities import face_identity, read_identity_key
from faceswap.faces.alignment import EXTRACT_LAYOUT, FaceLayout, align_face, transform_points
from faceswap.faces.detection import DetectionSettings, FaceDetector
from faceswap.images import IMAGE_SUFFIXES, list_images, read_image, write_image
from faceswap.settings import setting

logger = logging.getLogger(__name__)


@dataclass
class ExtractSettings:
    first_frame: int = setting(0, "skip the frames of a video before this one (e.g. to hold frames out of training)")
    every_n_frames: int = setting(1, "use every n-th frame of a video")
    max_frames: int = setting(0, "stop after this many frames per video (0 = all)")
    max_faces: int = setting(1, "faces to keep per frame, largest first")
    min_face_size: int = setting(48, "ignore faces whose box is smaller than this many px")
    min_score: float = setting(0.5, "ignore faces whose detector score is lower")
    size: int = setting(EXTRACT_LAYOUT.size, "side of the aligned face crops in px")
    padding_ratio: float = setting(EXTRACT_LAYOUT.padding_ratio, "margin around the mean-face square, share of the size")
    identity_key: str = setting("", "table mapping source files to person keys (Markdown with 'file' and 'id' "
                                    "columns, like faces/MANIFEST.md, or CSV); default: one person per source file")


@dataclass
class ExtractionReport:
    frames: int = 0
    frames_with_faces: int = 0
    faces_written: int = 0
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def _frames_of(path: Path, settings: ExtractSettings) -> Iterator[tuple[int, np.ndarray]]:
    if path.suffix.lower() in VIDEO_SUFFIXES:
        used = 0
        for index, frame in enumerate(read_frames(path)):
            if index < settings.first_frame or (index - settings.first_frame) % max(1, settings.every_n_frames):
                continue
            yield index, frame
            used += 1
            if settings.max_frames and used >= settings.max_frames:
                return
    else:
        yield 0, read_image(path)


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Videos and pictures named directly or inside the given folders; InputError if none."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths.extend(p for p in sorted(item.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES)
            paths.extend(list_images(item))
        elif item.is_file():
            if item.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
                raise InputError(f"{item}: not a video ({', '.join(VIDEO_SUFFIXES)}) or picture file")
            paths.append(item)
        else:
            raise InputError(f"{item}: no such file or folder")
    if not paths:
        raise InputError(f"no videos or pictures found in {', '.join(map(str, inputs))}")
    return paths


def extract_faces(inputs: list[str | Path], output: str | Path, settings: ExtractSettings | None = None,
                  detector: FaceDetector | None = None, progress: bool = True) -> ExtractionReport:
    """Write aligned faces of ``inputs`` (videos, pictures, folders) into the face folder ``output``."""
    settings = settings or ExtractSettings()
    layout = FaceLayout(settings.size, settings.padding_ratio)
    sources = expand_inputs(inputs)
    for source in sources:
        if source.suffix.lower() in VIDEO_SUFFIXES:
            probe_video(source)  # fail early, naming the file, before any face is written
    identity_key = read_identity_key(settings.identity_key) if settings.identity_key else None
    folder = FaceFolder.create_or_open(output, layout)
    detector = detector or FaceDetector(DetectionSettings(max_faces=max(1, settings.max_faces)))
    report = ExtractionReport()
    started = time.perf_counter()
    bar = tqdm(total=None, unit="frame", desc="extract", disable=not progress)
    try:
        for source in sources:
            bar.set_postfix_str(source.name)
            for index, frame in _frames_of(source, settings):
                report.frames += 1
                bar.update(1)
                faces = [f for f in detector.detect(frame)
                         if f.score >= settings.min_score and min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= settings.min_face_size]
                if faces:
                    report.frames_with_faces += 1
                kept = faces[: settings.max_faces]
                for number, face in enumerate(kept):
                    crop, matrix = align_face(frame, face.landmarks, layout)
                    name = f"{source.stem}_{index:06d}_{number}.png"
                    write_image(folder.path / name, crop)
                    folder.add(FaceRecord(name, source.name, index, number, face.score,
                                          transform_points(face.landmarks, matrix).astype(np.float32),
                                          face_identity(source, number, len(kept), identity_key)))
                    report.faces_written += 1
    finally:
        bar.close()
        if folder.records:
            folder.save()
    report.seconds = time.perf_counter() - started
    if report.faces_written == 0:
        raise InputError(f"no face found in {', '.join(s.name for s in sources)}; nothing was written")
    logger.info("extracted %d faces from %d frames in %.1f s", report.faces_written, report.frames, report.seconds)
    return report
