"""Read video files as their players show them, and write converted videos that keep what the
source declares about its picture, its timing and its sound. Containers go through PyAV (libav*).

What a source declares, and what is done with it (``VideoConverter.notes`` says it per file):

* **display rotation and mirroring** (display-matrix side data, e.g. portrait phone clips stored
  landscape): frames are turned and mirrored on reading exactly as FFmpeg's player path does
  (``display_operations``; detection sees upright faces) and written that way without a display
  matrix, so the output looks exactly as the input looked in a player;
* **timestamps**: every frame keeps its input presentation timestamp (variable frame rate
  included), so the picture stays in sync with the sound;
* **audio**: every audio track is copied as it is when the output container takes its codec,
  otherwise converted (AAC for .mp4/.m4v/.mov/.mkv, Opus for .webm), on the same time line;
* **pixel aspect ratio**: kept as declared; the frames handed out for detection and swapping are
  resampled to square pixels (faces are not squashed), and only the pixels the swap changed are
  mapped back into the stored geometry;
* **colour**: primaries, transfer, matrix and range are read from the stream, used to convert to
  and from BGR with the right coefficients, and written as the same tags;
* **bit depth**: 10-bit sources are written 10-bit where the encoder can (H.264 High 10); the
  pixels outside the swapped faces keep their full precision. Deeper sources, and 10-bit into
  .webm (this VP9 encoder is 8-bit only), are reduced and the notes say so. Chroma is always
  written 4:2:0, the layout every player decodes;
* **interlacing**: interlaced sources are deinterlaced on reading (bwdif, one frame per frame)
  and written progressive;
* subtitle, data and attachment streams are not carried over (the notes say so).

A damaged stretch of a file (packets the decoder refuses) costs those frames, not the conversion:
they are skipped, counted and named in the notes.

Output containers (``OUTPUT_FORMATS``): .mp4/.m4v/.mov/.mkv hold H.264, .webm holds VP9 + Opus.
Any other output suffix is refused by ``output_format`` before any work.

Frames handed out are ``uint8 (H, W, 3)`` **BGR**, upright, square pixels. Errors are
``InputError`` with one whole sentence naming the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
from av.video.reformatter import Interpolation
import imageio_ffmpeg
import numpy as np

from faceswap.conversion.output_file import finalise_output, temporary_sibling
from faceswap.errors import InputError
from faceswap.images import merge_swapped, to_uint8

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
"""Suffixes read as videos (input)."""

# AVColorSpace values -> swscale coefficient names (unspecified / RGB: libswscale's default, BT.601)
_SWS_COLORSPACES = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
# swscale's default YUV<->BGR path is off by ~2.8 levels on average over a round trip; exact rounding
# with full-resolution chroma brings that to ~0.15 (about +10 ms per 1080p frame each way)
_TO_BGR = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
_FROM_BGR = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INP
_PRIMARIES = {1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020", 12: "smpte432 (P3)"}
_TRANSFERS = {1: "bt709", 2: "unspecified", 6: "smpte170m", 13: "sRGB", 14: "bt2020-10", 16: "PQ (HDR10)", 18: "HLG"}
_MATRICES = {0: "RGB", 1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"}


@dataclass(frozen=True)
class OutputFormat:
    """How one output suffix is written: muxer, video encoder, audio encoder, the audio codecs
    stored as they come, and the encoder's pixel format per bit depth."""

    muxer: str
    video_codec: str
    audio_codec: str
    audio_copy: tuple[str, ...]
    pixel_formats: dict[int, str]
    label: str


_H264 = {8: "yuv420p", 10: "yuv420p10le"}
_PCM = ("pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_f32le")
OUTPUT_FORMATS = {
    ".mp4": OutputFormat("mp4", "libx264", "aac", ("aac", "mp3", "alac"), _H264, "H.264 + AAC"),
    ".m4v": OutputFormat("mp4", "libx264", "aac", ("aac", "alac"), _H264, "H.264 + AAC"),
    ".mov": OutputFormat("mov", "libx264", "aac", ("aac", "mp3", "alac") + _PCM, _H264, "H.264 + AAC or PCM"),
    ".mkv": OutputFormat("matroska", "libx264", "aac",
                         ("aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3", "alac") + _PCM, _H264,
                         "H.264 + the source's audio"),
    ".webm": OutputFormat("webm", "libvpx-vp9", "libopus", ("opus", "vorbis"), {8: "yuv420p"}, "VP9 + Opus"),
}
OUTPUT_VIDEO_SUFFIXES = tuple(OUTPUT_FORMATS)


def output_format(path: str | Path) -> OutputFormat:
    """The OutputFormat of the suffix of ``path``; InputError (one sentence) for any other suffix."""
    path = Path(path)
    found = OUTPUT_FORMATS.get(path.suffix.lower())
    if found is None:
        choices = ", ".join(OUTPUT_VIDEO_SUFFIXES[:-1]) + f" or {OUTPUT_VIDEO_SUFFIXES[-1]}"
        raise InputError(f"{path}: videos are written as {choices} ({path.suffix or 'no suffix'} is not supported), "
                         "so choose an output file with one of those suffixes.")
    return found


@dataclass(frozen=True)
class VideoInfo:
    """What a video declares. ``width``/``height``: the frames ``read_frames`` yields (upright,
    square pixels); ``stored_width``/``stored_height``: as coded; ``rotation``: the display matrix's
    counter-clockwise rotation in degrees (``VideoFrame.rotation``); ``display``: what a player does
    to a stored frame to show it (``display_operations``); colour fields are
    FFmpeg's AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange values."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int
    stored_width: int = 0
    stored_height: int = 0
    rotation: int = 0
    display: tuple[str, ...] = ()
    sample_aspect_ratio: Fraction = Fraction(1)
    codec: str = ""
    pixel_format: str = ""
    bit_depth: int = 8
    chroma: str = "4:2:0"
    alpha: bool = False
    interlaced: bool = False
    color_primaries: int = 2
    color_trc: int = 2
    colorspace: int = 2
    color_range: int = 0
    time_base: Fraction = Fraction(1, 90000)
    audio_codecs: tuple[str, ...] = ()
    other_streams: tuple[str, ...] = field(default_factory=tuple)

    @property
    def transposed(self) -> bool:
        """True when showing a stored frame swaps its width and height."""
        return any(operation in _TRANSPOSING for operation in self.display)

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of the written frames: upright, in the source's pixel aspect."""
        if self.transposed:
            return self.stored_height, self.stored_width
        return self.stored_width, self.stored_height

    @property
    def output_aspect(self) -> Fraction:
        """Pixel aspect ratio of the upright frames (a quarter turn inverts it)."""
        return 1 / self.sample_aspect_ratio if self.transposed else self.sample_aspect_ratio

    @property
    def full_range(self) -> bool:
        return self.color_range == _FULL_RANGE or self.pixel_format.startswith("yuvj")


def ffmpeg_executable() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg (for tools and test fixtures)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise InputError(f"{path}: no such video file")
    try:
        return av.open(str(path), "r")
    except av.FFmpegError as error:
        raise InputError(f"{path}: cannot be read as a video (unknown format or corrupt file: {error.strerror})") from None


_TRANSPOSING = ("clock", "cclock", "cclock_flip", "clock_flip")
_OPERATIONS = {
    "clock": lambda image: np.rot90(image, -1),               # turn 90 degrees clockwise
    "cclock": lambda image: np.rot90(image, 1),               # turn 90 degrees counter-clockwise
    "cclock_flip": lambda image: image.swapaxes(0, 1),        # transpose
    "clock_flip": lambda image: np.rot90(image, -1)[::-1],    # anti-transpose
    "hflip": lambda image: image[:, ::-1],
    "vflip": lambda image: image[::-1],
}
_DESCRIPTIONS = {"clock": "turned 90 degrees clockwise", "cclock": "turned 90 degrees counter-clockwise",
                 "cclock_flip": "transposed (turned and mirrored)", "clock_flip": "anti-transposed (turned and mirrored)",
                 "hflip": "mirrored left to right", "vflip": "mirrored top to bottom"}


def display_operations(matrix: np.ndarray | None) -> tuple[str, ...]:
    """What a player does to a stored frame with this display matrix (9 int32, 16.16 fixed point),
    as FFmpeg's autorotate does (fftools/ffmpeg_filter.c): "clock"/"cclock" turns, the two
    transposes, "hflip", "vflip", in order. Rotations that are not a multiple of 90 degrees
    (practically unheard of in recordings) are treated as the nearest multiple."""
    if matrix is None or len(matrix) < 9:
        return ()
    m = matrix.astype(np.float64) / 65536.0
    scale_x, scale_y = np.hypot(m[0], m[3]), np.hypot(m[1], m[4])
    if not scale_x or not scale_y:
        return ()
    theta = -round(-np.degrees(np.arctan2(m[1] / scale_y, m[0] / scale_x)))
    theta -= 360 * np.floor(theta / 360 + 0.9 / 360)
    quarter = int(round(theta / 90)) % 4
    if quarter == 1:
        return ("cclock_flip",) if matrix[3] > 0 else ("clock",)
    if quarter == 2:
        return tuple(name for name, flipped in (("hflip", matrix[0] < 0), ("vflip", matrix[4] < 0)) if flipped)
    if quarter == 3:
        return ("clock_flip",) if matrix[3] < 0 else ("cclock",)
    return ("vflip",) if matrix[4] < 0 else ()


def _display_matrix(frame: av.VideoFrame) -> np.ndarray | None:
    for side_data in frame.side_data:
        if "DISPLAYMATRIX" in str(side_data.type):
            return np.frombuffer(bytes(side_data), "<i4")
    return None


def main_video_stream(container: av.container.InputContainer):
    """The video stream a player shows: the first one that is not a cover picture; None if none."""
    pictures = av.stream.Disposition.attached_pic | av.stream.Disposition.timed_thumbnails
    for stream in container.streams.video:
        if not stream.disposition & pictures:
            return stream
    return None


def _square_size(width: int, height: int, aspect: Fraction) -> tuple[int, int]:
    """Frame size with square pixels, never shrinking either side."""
    if aspect > 1:
        return int(round(width * aspect)), height
    if aspect < 1:
        return width, int(round(height / aspect))
    return width, height


def _chroma(video_format) -> str:
    if video_format.is_rgb:
        return "RGB"
    if len(video_format.components) < 3:
        return "none"  # grey
    horizontal, vertical = video_format.chroma_width(2), video_format.chroma_height(2)
    return {(1, 1): "4:2:0", (1, 2): "4:2:2", (2, 2): "4:4:4"}.get((horizontal, vertical), "other")


def probe_video(path: str | Path) -> VideoInfo:
    """What the video at ``path`` declares (decodes its first frame); InputError if unreadable."""
    path = Path(path)
    container = _open_input(path)
    try:
        stream = main_video_stream(container)
        if stream is None:
            raise InputError(f"{path}: holds no video stream")
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError:
            first = None
        if first is None or first.width <= 0 or first.height <= 0:
            raise InputError(f"{path}: holds no readable video frames")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise InputError(f"{path}: the video reports no frame rate")
        aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        aspect = Fraction(aspect) if aspect and aspect > 0 else Fraction(1)
        context = stream.codec_context
        others = tuple(f"{s.type} ({s.codec_context.name if s.codec_context else 'unknown'})"
                       for s in container.streams if s.type not in ("video", "audio"))
        others += tuple(f"video ({s.codec_context.name})" for s in container.streams.video if s is not stream)
        info = VideoInfo(
            path=path, width=0, height=0, fps=float(rate), frame_count=max(int(stream.frames or 0), 0),
            stored_width=first.width, stored_height=first.height, rotation=int(round(first.rotation or 0)),
            display=display_operations(_display_matrix(first)),
            sample_aspect_ratio=aspect, codec=context.name, pixel_format=first.format.name,
            bit_depth=max(component.bits for component in first.format.components),
            chroma=_chroma(first.format), interlaced=bool(first.interlaced_frame), alpha=any(component.is_alpha for component in first.format.components),
            color_primaries=int(first.color_primaries or context.color_primaries or 2),
            color_trc=int(first.color_trc or context.color_trc or 2),
            colorspace=int(first.colorspace if first.colorspace is not None else 2),
            color_range=int(first.color_range or context.color_range or 0),
            time_base=Fraction(stream.time_base), audio_codecs=tuple(a.codec_context.name for a in container.streams.audio),
            other_streams=others)
    except av.FFmpegError as error:
        raise InputError(f"{path}: cannot be read as a video ({error.strerror})") from None
    finally:
        container.close()
    width, height = _square_size(*info.output_size, info.output_aspect)
    return replace(info, width=width, height=height)


@dataclass
class SourceFrame:
    """One decoded frame. ``picture``: uint8 (h, w, 3) BGR, upright, square pixels (what detection
    and swapping see); ``stored``: (H, W, 3) BGR, upright, in the source's pixel aspect, uint8 or
    uint16 (0..65535) for deep sources — what is written where the swap changed nothing (the
    same array as ``picture`` for 8-bit square-pixel sources); ``pts`` in ``time_base`` units;
    ``time_s``: presentation time in seconds."""

    picture: np.ndarray
    stored: np.ndarray
    pts: int
    time_s: float


class _Deinterlacer:
    """FFmpeg's bwdif (motion-adaptive deinterlacer): one progressive frame out per interlaced frame
    in, same timestamps; frames that are not flagged interlaced pass through untouched."""

    def __init__(self, frame: av.VideoFrame, time_base: Fraction):
        self._time_base = time_base
        self._graph = av.filter.Graph()
        source = self._graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                        time_base=time_base)
        bwdif = self._graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")
        sink = self._graph.add("buffersink")
        source.link_to(bwdif)
        bwdif.link_to(sink)
        self._graph.configure()

    def push(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        """Frames ready after ``frame`` (None: the end, everything left)."""
        self._graph.push(frame)
        ready = []
        while True:
            try:
                frame = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return ready
            if frame.time_base and frame.time_base != self._time_base:  # bwdif counts in half steps (fields)
                frame.pts = int(round(frame.pts * frame.time_base / self._time_base))
                frame.time_base = self._time_base
            ready.append(frame)


class _FrameDecoder:
    """Decoded AVFrames -> SourceFrames: deinterlaced, with the stream's colour coefficients,
    turned and mirrored as displayed. ``decode`` per decoded frame, ``flush`` at the end."""

    def __init__(self, info: VideoInfo, deep: bool):
        self.info = info
        self.deep = deep
        self._next_pts = 0
        self._step = max(1, int(round(1 / (info.fps * info.time_base)))) if info.fps else 1
        self._square = (info.width, info.height) != info.output_size
        self._deinterlacer: _Deinterlacer | None = None

    def decode(self, frame: av.VideoFrame) -> list[SourceFrame]:
        """The SourceFrames ready after the decoded ``frame`` (a deinterlacer holds one back)."""
        if frame.pts is None:  # e.g. raw AVI frames carry none
            frame.pts = self._next_pts
        self._next_pts = frame.pts + self._step
        if not self.info.interlaced:
            return [self._convert(frame)]
        frame.time_base = self.info.time_base
        if self._deinterlacer is None:
            self._deinterlacer = _Deinterlacer(frame, self.info.time_base)
        return [self._convert(ready) for ready in self._deinterlacer.push(frame)]

    def flush(self) -> list[SourceFrame]:
        """The frames still held back at the end of the stream."""
        if self._deinterlacer is None:
            return []
        return [self._convert(ready) for ready in self._deinterlacer.push(None)]

    def _convert(self, frame: av.VideoFrame) -> SourceFrame:
        info = self.info
        if (frame.width, frame.height) != (info.stored_width, info.stored_height):
            raise InputError(f"{info.path}: a frame at {float(frame.time or 0):.2f} s is {frame.width}x{frame.height}, "
                             f"not {info.stored_width}x{info.stored_height} like the first frame, and size changes "
                             "inside a video are not supported.")
        stored = frame.to_ndarray(format="bgr48le" if self.deep else "bgr24",
                                  src_colorspace=_SWS_COLORSPACES.get(info.colorspace, "DEFAULT"),
                                  src_color_range="JPEG" if info.full_range else "MPEG", interpolation=_TO_BGR)
        if info.display:
            for operation in info.display:
                stored = _OPERATIONS[operation](stored)
            stored = np.ascontiguousarray(stored)
        picture = to_uint8(stored)
        if self._square:
            picture = cv2.resize(picture, (info.width, info.height), interpolation=cv2.INTER_LINEAR)
        return SourceFrame(picture=picture, stored=stored, pts=int(frame.pts), time_s=float(frame.pts * info.time_base))


def _decoded(packet: av.Packet, damaged: list[int]) -> list:
    """The frames of ``packet``; a damaged packet (the decoder refuses it) gives none and is
    counted in ``damaged[0]``, so one bad stretch of a file costs its frames, not the file."""
    try:
        return packet.decode()
    except av.InvalidDataError:
        damaged[0] += 1
        return []


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield every frame of the video as uint8 (H, W, 3) BGR, upright, square pixels, in order."""
    path = Path(path)
    info = probe_video(path)
    decoder = _FrameDecoder(info, deep=False)
    container = _open_input(path)
    try:
        stream = main_video_stream(container)
        stream.thread_type = "AUTO"
        damaged = [0]
        try:
            for packet in container.demux(stream):
                for frame in _decoded(packet, damaged):
                    for ready in decoder.decode(frame):
                        yield ready.picture
            for ready in decoder.flush():
                yield ready.picture
        except av.FFmpegError as error:
            raise InputError(f"{path}: the video could not be decoded to the end ({error.strerror}).") from None
    finally:
        container.close()
    if damaged[0]:
        logger.warning("%s: %d damaged video packets could not be decoded and were skipped", path, damaged[0])


def has_audio_stream(path: str | Path) -> bool:
    """True when the media file ``path`` holds at least one audio stream."""
    container = _open_input(Path(path))
    try:
        return bool(container.streams.audio)
    finally:
        container.close()


def _describe_colour(info: VideoInfo) -> str:
    return (f"primaries {_PRIMARIES.get(info.color_primaries, info.color_primaries)}, "
            f"transfer {_TRANSFERS.get(info.color_trc, info.color_trc)}, "
            f"matrix {_MATRICES.get(info.colorspace, info.colorspace)}, "
            f"{'full' if info.full_range else 'limited'} range")


class _AudioTrack:
    """One source audio stream into the output: packets copied, or decoded and re-encoded."""

    def __init__(self, output: av.container.OutputContainer, source: av.audio.AudioStream, target: OutputFormat,
                 suffix: str, notes: list[str], number: int):
        self.source = source
        name = source.codec_context.name
        self.copy = name in target.audio_copy
        self.damaged = [0]  # audio packets the decoder refused (skipped)
        if self.copy:
            self.stream = output.add_stream_from_template(source)
            notes.append(f"audio track {number} ({name}) copied unchanged")
            return
        rate = source.codec_context.sample_rate or 48000
        if target.audio_codec == "libopus" and rate not in (48000, 24000, 16000, 12000, 8000):
            rate = 48000
        channels = source.codec_context.channels or 2
        layout = "mono" if channels == 1 else "stereo"
        self.stream = output.add_stream(target.audio_codec, rate=rate, layout=layout)
        self.stream.codec_context.bit_rate = 64000 * (1 if channels == 1 else 2)
        self.stream.codec_context.time_base = Fraction(1, rate)
        self.stream.time_base = Fraction(1, rate)
        self._resampler = av.AudioResampler(format=self.stream.codec_context.format, layout=layout, rate=rate)
        self._next_pts: int | None = None
        self._rate = rate
        reason = f"{suffix} does not take {name}"
        extra = f", {channels} channels down-mixed to stereo" if channels > 2 else ""
        notes.append(f"audio track {number} ({name}, {source.codec_context.sample_rate} Hz) converted to "
                     f"{target.audio_codec.removeprefix('lib')} at {rate} Hz{extra}: {reason}")

    def handle(self, packet: av.Packet, output: av.container.OutputContainer, end_s: float | None = None) -> bool:
        """Carry ``packet`` into ``output``, unless it starts at or after ``end_s`` (seconds on the
        source's clock; None: no end). True when it does (the track has reached the end)."""
        stamp = packet.pts if packet.pts is not None else packet.dts
        if end_s is not None and stamp is not None and packet.time_base and float(stamp * packet.time_base) >= end_s:
            return True
        if self.copy:
            if packet.dts is None:
                return False
            packet.stream = self.stream
            output.mux(packet)
            return False
        for frame in _decoded(packet, self.damaged):
            if end_s is not None and frame.time is not None and frame.time >= end_s:
                continue
            if self._next_pts is None:
                start = frame.time if frame.time is not None else 0.0
                self._next_pts = int(round(start * self._rate))
            for resampled in self._resampler.resample(frame):
                self._encode(resampled, output)
        return False

    def _encode(self, frame: av.AudioFrame | None, output: av.container.OutputContainer) -> None:
        if frame is not None:
            frame.pts = self._next_pts
            frame.time_base = Fraction(1, self._rate)
            self._next_pts += frame.samples
        output.mux(self.stream.encode(frame))

    def flush(self, output: av.container.OutputContainer) -> None:
        if self.copy:
            return
        if self._next_pts is not None:
            for resampled in self._resampler.resample(None):
                self._encode(resampled, output)
        self._encode(None, output)


@dataclass
class EncodeSettings:
    """Encoder quality: H.264 ``crf`` and ``preset``; VP9 ``vp9_crf`` (lower = better); ``ten_bit``:
    deeper sources as 10-bit H.264 (High 10) rather than 8-bit."""

    crf: int = 18
    preset: str = "veryfast"
    vp9_crf: int = 32
    ten_bit: bool = True


class VideoConverter:
    """One pass over ``source``: hands out its frames (``frames()``), takes the converted ones
    (``write``) and writes ``output`` with the source's timestamps, audio and picture properties.

    Use as a context manager; the output appears only when the block ends without an exception
    (through ``finalise_output``), otherwise everything written is deleted. ``notes`` lists what
    was kept, converted or dropped, in words. Raises InputError (one sentence) for an output
    suffix that cannot be written — before anything is decoded — and for unreadable sources.
    """

    def __init__(self, source: str | Path, output: str | Path, settings: EncodeSettings | None = None):
        self.source, self.output = Path(source), Path(output)
        self.target = output_format(self.output)
        self.info = probe_video(self.source)
        settings = settings or EncodeSettings()
        self.notes: list[str] = []
        self.frames_written = 0
        self._intervals: list[int] = []
        self._damaged = [0]  # video packets the decoder refused (skipped)
        self._last_pts: int | None = None
        self._temporary = temporary_sibling(self.output, "partial")
        self._input = _open_input(self.source)
        try:
            self._output = av.open(str(self._temporary), "w", format=self.target.muxer)
        except av.FFmpegError as error:
            self._input.close()
            raise InputError(f"{self.output}: cannot be created ({error.strerror}).") from None
        try:
            self._setup(settings)
        except BaseException:
            self.abort()
            raise

    # ---------------------------------------------------------------- set-up
    def _setup(self, settings: EncodeSettings) -> None:
        info, target = self.info, self.target
        suffix = self.output.suffix.lower()
        self._in_video = main_video_stream(self._input)
        self._in_video.thread_type = "AUTO"
        depth = 10 if info.bit_depth > 8 and 10 in target.pixel_formats and settings.ten_bit else 8
        self._pixel_format = target.pixel_formats[depth]
        self._color_range = _FULL_RANGE if info.full_range else info.color_range
        self._decoder = _FrameDecoder(info, deep=depth > 8)
        # Matroska/WebM declares a pixel aspect only through the stream (which PyAV cannot set):
        # there, non-square pixels are resampled to square ones instead.
        self._square_output = info.output_aspect != 1 and target.muxer in ("webm", "matroska")
        width, height = (info.width, info.height) if self._square_output else info.output_size
        self._padded = (width + width % 2, height + height % 2)

        stream = self._output.add_stream(target.video_codec, rate=self._in_video.guessed_rate or Fraction(info.fps))
        context = stream.codec_context
        context.width, context.height = self._padded
        context.pix_fmt = self._pixel_format
        context.time_base = info.time_base
        stream.time_base = info.time_base
        if info.output_aspect != 1 and not self._square_output:
            context.sample_aspect_ratio = info.output_aspect
        context.color_primaries, context.color_trc = info.color_primaries, info.color_trc
        context.colorspace = info.colorspace if info.colorspace != 0 else 2
        context.color_range = self._color_range
        if target.video_codec == "libx264":
            context.options = {"crf": str(settings.crf), "preset": settings.preset}
        else:
            context.bit_rate = 0
            # realtime/cpu-used 8: ~8x faster than "good" here at the same error (about 23 vs 180 ms
            # per 512x512 frame on the 2-core machine), files about a third larger
            context.options = {"crf": str(settings.vp9_crf), "b": "0", "deadline": "realtime", "cpu-used": "8",
                               "row-mt": "1"}
        self._out_video = stream

        self.notes.append(f"written as {target.label} in {suffix}")
        if info.display:
            shown = " and ".join(_DESCRIPTIONS[operation] for operation in info.display)
            self.notes.append(f"display matrix (rotation {info.rotation} degrees) applied to the pixels, {shown}: the "
                              f"output is stored as shown ({width}x{height}) without a display matrix and plays "
                              "the same way")
        aspect = info.output_aspect
        if self._square_output:
            self.notes.append(f"pixel aspect ratio {aspect.numerator}:{aspect.denominator} resampled to square "
                              f"pixels ({info.width}x{info.height}, same display shape): {suffix} cannot declare it here")
        elif aspect != 1:
            self.notes.append(f"pixel aspect ratio {aspect.numerator}:{aspect.denominator} kept (faces were "
                              f"detected and swapped on square pixels, {info.width}x{info.height})")
        if (width, height) != self._padded:
            self.notes.append(f"odd frame size {width}x{height} padded to {self._padded[0]}x{self._padded[1]} "
                              "(4:2:0 video needs even sizes)")
        if (info.color_primaries, info.color_trc, info.colorspace, info.color_range) == (2, 2, 2, 0):
            self.notes.append("the source declares no colour properties; none are declared in the output either "
                              "(both read as BT.601 limited range, as players do)")
        else:
            self.notes.append(f"colour {_describe_colour(info)} kept")
        if info.bit_depth > 8 and depth > 8:
            kept = "kept" if info.bit_depth == 10 else f"reduced from {info.bit_depth} bits (the most H.264 takes here)"
            self.notes.append(f"10-bit video {kept} as 10-bit ({self._pixel_format}, H.264 High 10: "
                              "plays in desktop players, not in most web browsers; --no-ten-bit writes 8 bits); "
                              "the swapped faces carry 8-bit detail")
        elif info.bit_depth > 8 and 10 in target.pixel_formats:
            self.notes.append(f"bit depth reduced from {info.bit_depth} to 8 bits, as asked (--no-ten-bit)")
        elif info.bit_depth > 8:
            self.notes.append(f"bit depth reduced from {info.bit_depth} to 8 bits: the {suffix} encoder "
                              f"({target.video_codec}) writes 8-bit video only")
        if info.interlaced:
            self.notes.append("interlaced video deinterlaced (bwdif, one frame per frame, timestamps kept): faces "
                              "are found in whole frames and the output is progressive")
        if info.alpha:
            self.notes.append(f"alpha channel ({info.pixel_format}) dropped: the output video is opaque")
        if info.chroma not in ("4:2:0", "none"):
            layout = "RGB video" if info.chroma == "RGB" else f"chroma {info.chroma}"
            self.notes.append(f"{layout} written as YUV 4:2:0 (the layout every player decodes)")

        self._audio: dict[int, _AudioTrack] = {}
        for number, audio in enumerate(self._input.streams.audio, start=1):
            self._audio[audio.index] = _AudioTrack(self._output, audio, target, suffix, self.notes, number)
        if not self._audio:
            self.notes.append("the source has no audio")
        for other in info.other_streams:
            self.notes.append(f"{other} stream dropped (only video and audio are converted)")

    # ---------------------------------------------------------------- the pass
    def frames(self, max_seconds: float = 0.0) -> Iterator[SourceFrame]:
        """Every video frame of the source, in presentation order; audio is carried over meanwhile.
        With ``max_seconds`` > 0 only the frames that start within that many seconds of the video
        stream's start, and the audio packets that start before the same point (a note says where
        it was cut). Call ``write`` for each frame before asking for the next one."""
        streams = [self._in_video, *(track.source for track in self._audio.values())]
        end_s = None
        if max_seconds > 0:
            start = self._in_video.start_time
            end_s = (float(start * self._in_video.time_base) if start is not None else 0.0) + max_seconds
        video_done = False
        audio_done: set[int] = set()
        try:
            for packet in self._input.demux(*streams):
                if packet.stream.index == self._in_video.index:
                    if video_done:
                        continue
                    for frame in _decoded(packet, self._damaged):
                        for ready in self._decoder.decode(frame):
                            if end_s is not None and ready.time_s >= end_s:
                                video_done = True
                                break
                            yield ready
                        if video_done:
                            self.notes.append(f"cut after the first {max_seconds:g} s: {self.frames_written} "
                                              "frames; the rest of the video and its sound are left out")
                            break
                elif self._audio[packet.stream.index].handle(packet, self._output, end_s):
                    audio_done.add(packet.stream.index)
                if video_done and audio_done >= set(self._audio):
                    return
            if not video_done:
                for ready in self._decoder.flush():
                    if end_s is not None and ready.time_s >= end_s:
                        self.notes.append(f"cut after the first {max_seconds:g} s: {self.frames_written} "
                                          "frames; the rest of the video and its sound are left out")
                        break
                    yield ready
        except av.FFmpegError as error:
            raise InputError(f"{self.source}: the video could not be converted to the end ({error.strerror}).") from None

    def write(self, frame: SourceFrame, swapped: np.ndarray) -> None:
        """Encode the converted ``swapped`` (uint8 (h, w, 3) BGR, the size of ``frame.picture``) at
        ``frame``'s timestamp."""
        if swapped.shape != frame.picture.shape or swapped.dtype != np.uint8:
            raise ValueError(f"frame {swapped.shape} {swapped.dtype} does not match the video {frame.picture.shape} uint8")
        if self._square_output and frame.stored.dtype == np.uint8:
            image = swapped  # the picture is the stored frame resampled to square pixels
        elif self._square_output:
            square = cv2.resize(frame.stored, (self.info.width, self.info.height), interpolation=cv2.INTER_LINEAR)
            image = merge_swapped(square, frame.picture, swapped)
        else:
            image = merge_swapped(frame.stored, frame.picture, swapped)
        height, width = image.shape[:2]
        if (width, height) != self._padded:
            image = cv2.copyMakeBorder(image, 0, self._padded[1] - height, 0, self._padded[0] - width,
                                       cv2.BORDER_REPLICATE)
        video = av.VideoFrame.from_ndarray(np.ascontiguousarray(image),
                                           format="bgr48le" if image.dtype == np.uint16 else "bgr24")
        info = self.info
        video = video.reformat(format=self._pixel_format, dst_colorspace=_SWS_COLORSPACES.get(info.colorspace, "DEFAULT"),
                               dst_color_range="JPEG" if info.full_range else "MPEG", interpolation=_FROM_BGR)
        video.color_primaries, video.color_trc = info.color_primaries, info.color_trc
        video.colorspace = info.colorspace if info.colorspace != 0 else 2
        video.color_range = self._color_range
        pts = frame.pts if self._last_pts is None or frame.pts > self._last_pts else self._last_pts + 1
        if self._last_pts is not None:
            self._intervals.append(pts - self._last_pts)
        self._last_pts = pts
        video.pts, video.time_base = pts, info.time_base
        self._output.mux(self._out_video.encode(video))
        self.frames_written += 1

    @property
    def audio_kept(self) -> bool:
        return bool(self._audio)

    @property
    def variable_frame_rate(self) -> bool:
        """True when the frame intervals written so far differ by more than a tenth."""
        return bool(self._intervals) and max(self._intervals) > 1.1 * min(self._intervals)

    # ---------------------------------------------------------------- the end
    def close(self) -> None:
        """Flush encoders, close the file and finalise it as ``output``."""
        try:
            self._output.mux(self._out_video.encode(None))
            for track in self._audio.values():
                track.flush(self._output)
            self._output.close()
        except av.FFmpegError as error:
            self.abort()
            raise InputError(f"{self.output}: the video could not be written ({error.strerror}).") from None
        finally:
            self._input.close()
        if self._damaged[0]:
            self.notes.append(f"{self._damaged[0]} damaged video packets could not be decoded and were skipped "
                              f"({self.frames_written} frames written)")
        for number, track in enumerate(self._audio.values(), start=1):
            if track.damaged[0]:
                self.notes.append(f"{track.damaged[0]} damaged packets of audio track {number} were skipped")
        if self.variable_frame_rate:
            low, high = (float(value * self.info.time_base) * 1000 for value in (min(self._intervals), max(self._intervals)))
            self.notes.append(f"variable frame rate kept: every frame keeps its input timestamp "
                              f"(intervals {low:.1f} to {high:.1f} ms)")
        finalise_output(self._temporary, self.output)

    def abort(self) -> None:
        """Close everything and delete what was written; ``output`` is left untouched."""
        for container in (getattr(self, "_output", None), self._input):
            if container is not None:
                try:
                    container.close()
                except (av.FFmpegError, ValueError, OSError):
                    pass
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> "VideoConverter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
