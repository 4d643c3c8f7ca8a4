"""Offline conversion: swap every face of a video file or of a folder of pictures.

* video -> video: every frame goes through FrameSwapper (with temporal landmark smoothing), in
  order, upright and on square pixels; the result keeps every frame's timestamp, the audio tracks,
  the display shape, colour tags and bit depth where the container allows
  (faceswap.conversion.video_io, which also says in ``notes`` what was changed or dropped).
  Frames without a face are written unchanged and counted, with the reason, in the report.
* folder -> folder: each picture is swapped and written under the same name; a picture without a
  face is copied byte for byte; a swapped picture keeps its alpha channel and bit depth
  (faceswap.images); a file that cannot be read is reported and skipped, the others are still
  converted.

Nothing is overwritten by accident: an existing output video, or a picture that already exists in
the output folder, stops the conversion before any work unless ``overwrite`` is set; the input
itself is never a valid output, and an output suffix that cannot be written is refused before the
model loads. Converted files become the output in one place, ``finalise_output``
(faceswap.conversion.output_file). Frames are ``uint8 (H, W, 3)`` BGR throughout.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from faceswap.conversion.output_file import finalise_output, temporary_sibling
from faceswap.conversion.video_io import (VIDEO_SUFFIXES, EncodeSettings, VideoConverter,
                                          output_format, probe_video)
from faceswap.errors import InputError
from faceswap.images import IMAGE_SUFFIXES, list_images, picture_to_write, read_picture, write_picture
from faceswap.model.runtime import BACKENDS, load_swap_model
from faceswap.provenance.conversion import attach_credentials
from faceswap.provenance.credentials import CredentialSettings
from faceswap.settings import setting
from faceswap.swapping.frame_swapper import DIRECTIONS, FrameSwapper, SwapSettings, check_swap_settings

logger = logging.getLogger(__name__)


@dataclass
class ConvertSettings:
    """Options of one conversion (environment prefix FACESWAP_CONVERT_)."""

    direction: str = setting("a2b", "a2b: faces of identity A come out as B; b2a the reverse", choices=DIRECTIONS)
    overwrite: bool = setting(False, "replace an existing output video or existing pictures in the output folder")
    smooth: bool = setting(True, "smooth landmarks over time in videos (less jitter)")
    crf: int = setting(18, "H.264 quality of the output video (lower = better, 0-51)")
    preset: str = setting("veryfast", "H.264 encoder speed preset (ultrafast ... veryslow)")
    vp9_crf: int = setting(32, "VP9 quality of .webm output videos (lower = better, 0-63)")
    ten_bit: bool = setting(True, "write 10-bit (and deeper) sources as 10-bit H.264 (High 10: desktop players, not "
                                  "most web browsers); off: 8 bits")
    small_faces: bool = setting(True, "search frames over ~1000 px in which no face was found again in tiles, for "
                                      "faces down to 48 px (8 tiles at 1080p, 45 at 4K: 0.2-1 s more per such frame "
                                      "on a busy 2-core machine)")
    backend: str = setting("tflite", "model runtime to use from the model directory (tflite or savedmodel)",
                           choices=BACKENDS)
    max_seconds: float = setting(0.0, "convert only the first this many seconds of a video, its sound cut at the "
                                      "same point (0 = the whole video), e.g. to try a setting on a short piece")


@dataclass
class ConversionReport:
    """What a conversion did."""

    output: Path
    frames: int = 0
    frames_with_faces: int = 0
    faces: int = 0
    fps: float = 0.0
    audio_kept: bool = False
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    no_face: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def frames_without_faces(self) -> int:
        return self.frames - self.frames_with_faces

    def count(self, result, frame) -> None:
        """Add one swapped frame (a SwapResult of ``frame``); a frame without a face is counted
        under its reason (faceswap.faces.detection.no_face_reason)."""
        from faceswap.faces.detection import no_face_reason

        self.frames += 1
        self.faces += result.faces
        if result.faces:
            self.frames_with_faces += 1
        else:
            self.no_face[no_face_reason(frame)] += 1

    def summary(self, unit: str = "frames") -> list[str]:
        """The report in lines for people: counts, frames without a face by reason, notes."""
        lines = [f"{self.frames} {unit} ({self.frames_with_faces} with faces, {self.faces} faces swapped"
                 f"{', audio kept' if self.audio_kept else ''}) in {self.seconds:.1f} s "
                 f"({self.frames_per_second:.1f} {unit}/s) -> {self.output}"]
        if self.frames_without_faces:
            lines.append(f"{self.frames_without_faces} {unit} without a face, written unchanged:")
            lines += [f"  {count} x {reason}" for reason, count in self.no_face.most_common()]
        lines += [f"note: {note}" for note in self.notes]
        lines += [f"skipped (not a readable picture): {name}" for name in self.skipped]
        return lines


def _same_path(first: Path, second: Path) -> bool:
    return first.resolve() == second.resolve()


def check_video_output(source: Path, output: Path, overwrite: bool) -> None:
    """Refuse an output video that is the input, has a suffix that cannot be written
    (OUTPUT_VIDEO_SUFFIXES), or exists (unless overwrite)."""
    output_format(output)
    if output.exists():
        if _same_path(source, output):
            raise InputError(f"{output}: the output is the input video; choose another output file")
        if output.is_dir():
            raise InputError(f"{output}: is a folder; the output of a video conversion is a video file")
        if not overwrite:
            raise InputError(f"{output}: already exists; pass --overwrite to replace it")


def check_folder_output(source: Path, output: Path, pictures: list[Path], overwrite: bool) -> None:
    """Refuse an output folder that is the input, is a file, or already holds one of the pictures."""
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: is a file; the output of a folder conversion is a folder")
    if output.exists() and _same_path(source, output):
        raise InputError(f"{output}: the output folder is the input folder; choose another folder")
    if not overwrite:
        existing = [picture.name for picture in pictures if (output / picture.name).exists()]
        if existing:
            raise InputError(f"{output}: already holds {len(existing)} of the pictures (e.g. {existing[0]}); "
                             "pass --overwrite to replace them")


def convert_video(source: str | Path, output: str | Path, swapper: FrameSwapper,
                  settings: ConvertSettings | None = None, progress: bool = True) -> ConversionReport:
    """Swap the faces of the video ``source`` into the video ``output`` (every frame at its own
    timestamp, audio, display shape and picture properties kept; ``report.notes`` says what changed)."""
    settings = settings or ConvertSettings()
    source, output = Path(source), Path(output)
    info = probe_video(source)
    check_video_output(source, output, settings.overwrite)
    output.parent.mkdir(parents=True, exist_ok=True)
    report = ConversionReport(output=output, fps=info.fps)
    smoother = None
    if settings.smooth:
        from faceswap.faces.smoothing import LandmarkSmoother

        smoother = LandmarkSmoother()
    from faceswap.faces.detection import FaceDetector, FaceFollower

    # a small face found in tiles is looked for around the same place in the next frame first
    follower = FaceFollower(swapper.detector) if isinstance(swapper.detector, FaceDetector) else None
    started = time.perf_counter()
    encode = EncodeSettings(crf=settings.crf, preset=settings.preset, vp9_crf=settings.vp9_crf, ten_bit=settings.ten_bit)
    total = info.frame_count or None
    if total and settings.max_seconds and info.fps:
        total = min(total, math.ceil(settings.max_seconds * info.fps))
    bar = tqdm(total=total, unit="frame", desc=f"convert {source.name}", disable=not progress)
    try:
        with VideoConverter(source, output, encode) as video:
            for frame in video.frames(settings.max_seconds):
                result = swapper.swap_frame(frame.picture, settings.direction, smoother=smoother,
                                            timestamp_s=frame.time_s, detector=follower)
                video.write(frame, result.frame)
                report.count(result, frame.picture)
                bar.update(1)
            if report.frames == 0:
                raise InputError(f"{source}: holds no readable video frames")
        report.audio_kept = video.audio_kept
        report.notes = video.notes
    finally:
        bar.close()
    report.seconds = time.perf_counter() - started
    if info.frame_count and info.frame_count != report.frames and not settings.max_seconds:
        logger.warning("%s: the container announces %d frames but %d were decoded", source, info.frame_count, report.frames)
    logger.info("%s: %d frames (%d with faces) in %.1f s -> %s%s", source, report.frames, report.frames_with_faces,
                report.seconds, output, " with audio" if report.audio_kept else "")
    return report


def _write_swapped_picture(target: Path, picture, swapped, jpeg_quality: int) -> list[str]:
    """Write ``swapped`` (uint8 BGR of ``picture``) as ``target`` with the picture's alpha and bit
    depth (faceswap.images); return what could not be kept, in words."""
    image, notes = picture_to_write(picture, swapped, target.suffix)
    temporary = temporary_sibling(target, "partial")
    try:
        write_picture(temporary, image, jpeg_quality)
        finalise_output(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return notes


def convert_folder(source: str | Path, output: str | Path, swapper: FrameSwapper,
                   settings: ConvertSettings | None = None, progress: bool = True) -> ConversionReport:
    """Swap the faces of every picture in the folder ``source`` into the folder ``output`` (same names)."""
    settings = settings or ConvertSettings()
    source, output = Path(source), Path(output)
    if not source.is_dir():
        raise InputError(f"{source}: no such folder")
    pictures = list_images(source)
    if not pictures:
        raise InputError(f"{source}: holds no pictures ({', '.join(IMAGE_SUFFIXES)})")
    check_folder_output(source, output, pictures, settings.overwrite)
    output.mkdir(parents=True, exist_ok=True)
    report = ConversionReport(output=output)
    started = time.perf_counter()
    for picture in tqdm(pictures, unit="picture", desc=f"convert {source.name}", disable=not progress):
        try:
            still = read_picture(picture)
        except InputError as error:
            logger.warning("skipped: %s", error)
            report.skipped.append(picture.name)
            continue
        result = swapper.swap_frame(still.image, settings.direction)
        target = output / picture.name
        if result.faces == 0:
            shutil.copyfile(picture, target)
        else:
            notes = _write_swapped_picture(target, still, result.frame, swapper.settings.jpeg_quality)
            report.notes += [f"{picture.name}: {note}" for note in notes]
        report.count(result, still.image)
    report.seconds = time.perf_counter() - started
    logger.info("%s: %d pictures (%d with faces, %d skipped) in %.1f s -> %s", source, report.frames,
                report.frames_with_faces, len(report.skipped), report.seconds, output)
    return report


def convert(source: str | Path, output: str | Path, model_dir: str | Path, settings: ConvertSettings | None = None,
            swap_settings: SwapSettings | None = None, progress: bool = True,
            credentials: CredentialSettings | None = None) -> ConversionReport:
    """Load the model in ``model_dir`` and convert a video file or a folder of pictures.

    The finished outputs get signed C2PA Content Credentials (faceswap.provenance.conversion;
    ``credentials`` None: FACESWAP_C2PA_* environment, else a development credential).

    Raises InputError for unusable inputs/outputs and ModelDirectoryError (from the model runtime)
    for a bad model directory.
    """
    settings = settings or ConvertSettings()
    swap_settings = swap_settings or SwapSettings()
    source = Path(source)
    if settings.direction not in DIRECTIONS:
        raise InputError(f"unknown direction {settings.direction!r}: expected 'a2b' or 'b2a'")
    if not settings.max_seconds >= 0:    # also refuses NaN
        raise InputError(f"--max-seconds must be 0 (the whole video) or more, not {settings.max_seconds}")
    check_swap_settings(swap_settings)   # before the model loads
    if source.is_dir():
        kind = "folder"
    elif source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        kind = "video"
        check_video_output(source, Path(output), settings.overwrite)  # refused before the model loads,
        probe_video(source)  # and so is an unreadable video
    elif source.is_file():
        raise InputError(f"{source}: is not a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of pictures.")
    else:
        raise InputError(f"{source}: no such file or folder")

    from faceswap.faces.detection import DetectionSettings, FaceDetector  # imports MediaPipe: only when needed

    model = load_swap_model(model_dir, backend=settings.backend)
    detection = DetectionSettings(max_faces=max(1, swap_settings.max_faces), small_faces=settings.small_faces)
    with FaceDetector(detection) as detector:
        swapper = FrameSwapper(model, detector, swap_settings)
        if kind == "video":
            report = convert_video(source, output, swapper, settings, progress)
        else:
            report = convert_folder(source, output, swapper, settings, progress)
    return attach_credentials(source, report, model_dir, credentials)
