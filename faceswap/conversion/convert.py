"""Offline conversion: swap every face of a video file or of a folder of pictures.

* video -> video: every frame goes through FrameSwapper (with temporal landmark smoothing), in
  order; the result has the same frame count and frame rate, and the source's audio track is
  copied in (faceswap.conversion.video_io). Frames without a face are written unchanged.
* folder -> folder: each picture is swapped and written under the same name; a picture without a
  face is copied byte for byte; a file that cannot be read is reported and skipped, the others
  are still converted.

Nothing is overwritten by accident: an existing output video, or a picture that already exists in
the output folder, stops the conversion before any work unless ``overwrite`` is set; the input
itself is never a valid output. Frames are ``uint8 (H, W, 3)`` BGR throughout.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from faceswap.conversion.video_io import VIDEO_SUFFIXES, VideoWriter, probe_video, read_frames
from faceswap.errors import InputError
from faceswap.images import IMAGE_SUFFIXES, encode_jpeg, list_images, read_image, write_image
from faceswap.model.runtime import BACKENDS, load_swap_model
from faceswap.provenance.conversion import attach_credentials
from faceswap.provenance.credentials import CredentialSettings
from faceswap.settings import setting
from faceswap.swapping.frame_swapper import DIRECTIONS, FrameSwapper, SwapSettings

logger = logging.getLogger(__name__)


@dataclass
class ConvertSettings:
    """Options of one conversion (environment prefix FACESWAP_CONVERT_)."""

    direction: str = setting("a2b", "a2b: faces of identity A come out as B; b2a the reverse", choices=DIRECTIONS)
    overwrite: bool = setting(False, "replace an existing output video or existing pictures in the output folder")
    smooth: bool = setting(True, "smooth landmarks over time in videos (less jitter)")
    crf: int = setting(18, "H.264 quality of the output video (lower = better, 0-51)")
    preset: str = setting("veryfast", "H.264 encoder speed preset (ultrafast ... veryslow)")
    backend: str = setting("tflite", "model runtime to use from the model directory (tflite or savedmodel)",
                           choices=BACKENDS)


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

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def _same_path(first: Path, second: Path) -> bool:
    return first.resolve() == second.resolve()


def check_video_output(source: Path, output: Path, overwrite: bool) -> None:
    """Refuse an output video that is the input, has no video suffix, or exists (unless overwrite)."""
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{output}: the output video needs one of the suffixes {', '.join(VIDEO_SUFFIXES)}")
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
    """Swap the faces of the video ``source`` into the video ``output`` (same fps, frame count, audio)."""
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
    started = time.perf_counter()
    bar = tqdm(total=info.frame_count or None, unit="frame", desc=f"convert {source.name}", disable=not progress)
    try:
        with VideoWriter(output, info.width, info.height, info.fps, audio_source=source,
                         crf=settings.crf, preset=settings.preset) as writer:
            for index, frame in enumerate(read_frames(source)):
                if frame.shape[:2] != (info.height, info.width):
                    raise InputError(f"{source}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                                     f"not {info.width}x{info.height} like the first frame")
                result = swapper.swap_frame(frame, settings.direction, smoother=smoother, timestamp_s=index / info.fps)
                writer.write(result.frame)
                report.frames += 1
                report.faces += result.faces
                report.frames_with_faces += result.faces > 0
                bar.update(1)
        report.audio_kept = writer.audio_kept
    finally:
        bar.close()
    report.seconds = time.perf_counter() - started
    if report.frames == 0:
        output.unlink(missing_ok=True)
        raise InputError(f"{source}: holds no readable video frames")
    if info.frame_count and info.frame_count != report.frames:
        logger.warning("%s: the container announces %d frames but %d were decoded", source, info.frame_count, report.frames)
    logger.info("%s: %d frames (%d with faces) in %.1f s -> %s%s", source, report.frames, report.frames_with_faces,
                report.seconds, output, " with audio" if report.audio_kept else "")
    return report


def _write_picture(path: Path, image, jpeg_quality: int) -> None:
    if path.suffix.lower() in (".jpg", ".jpeg"):
        path.write_bytes(encode_jpeg(image, jpeg_quality))
    else:
        write_image(path, image)


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
            frame = read_image(picture)
        except InputError as error:
            logger.warning("skipped: %s", error)
            report.skipped.append(picture.name)
            continue
        result = swapper.swap_frame(frame, settings.direction)
        target = output / picture.name
        if result.faces == 0:
            shutil.copyfile(picture, target)
        else:
            _write_picture(target, result.frame, swapper.settings.jpeg_quality)
        report.frames += 1
        report.faces += result.faces
        report.frames_with_faces += result.faces > 0
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
    if source.is_dir():
        kind = "folder"
    elif source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        kind = "video"
        probe_video(source)  # fail on an unreadable video before loading the model
        check_video_output(source, Path(output), settings.overwrite)
    elif source.is_file():
        raise InputError(f"{source}: not a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of pictures")
    else:
        raise InputError(f"{source}: no such file or folder")

    from faceswap.faces.detection import DetectionSettings, FaceDetector  # imports MediaPipe: only when needed

    model = load_swap_model(model_dir, backend=settings.backend)
    with FaceDetector(DetectionSettings(max_faces=max(1, swap_settings.max_faces))) as detector:
        swapper = FrameSwapper(model, detector, swap_settings)
        if kind == "video":
            report = convert_video(source, output, swapper, settings, progress)
        else:
            report = convert_folder(source, output, swapper, settings, progress)
    return attach_credentials(source, report, model_dir, credentials)
