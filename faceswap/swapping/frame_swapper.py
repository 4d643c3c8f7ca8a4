"""The per-frame swap pipeline shared by offline conversion and the live prediction routine.

One frame goes through these stages (the keys of ``SwapResult.timings_ms``):

1. ``detect`` — faces and 68 landmarks (faceswap.faces.detection), largest first, at most
   ``max_faces``;
2. ``align`` — optional temporal smoothing of the landmarks (one ``LandmarkSmoother`` per stream,
   passed in by the caller), alignment of every face to the model's ``FaceLayout`` (one warp,
   ``align_interpolation``), and the face mask from the frame's own landmarks (``mask_landmarks``,
   minus the open mouth when ``mouth`` is on and the closed eyes when ``eyes`` is on);
3. ``model`` — ONE ``SwapModel.swap`` call for the batch of all faces; ``a2b`` decodes a face of A
   with decoder B;
4. ``blend`` — colour transfer towards the original face (statistics from its bare skin), the
   landmark warp of the swapped face to the user's head pose (``landmark_warp``,
   faceswap.swapping.landmark_warp), the local tone match of the user's skin tone and light region by region (``local_tone``,
   ``local_tone_highlights``, faceswap.swapping.local_tone; skipped with colour ``none``), the
   temporal filter of each followed face on video (``temporal``, faceswap.swapping.temporal), the
   optional unsharp mask (``sharpen``), the camera's motion blur along each followed face's
   motion on video (``motion_blur``, faceswap.swapping.motion_blur), blending back into a copy of the frame (one warp,
   ``paste_interpolation``) (only the faces' rectangles are touched), and the visible "AI-generated"
   mark;

plus ``total``. With ``measure_cpu``, ``SwapResult.cpu_ms`` holds the process CPU time (``time.process_time``: all
threads, since MediaPipe runs its graphs on threads of its own) per finer stage (``detect``,
``align``, ``model``, ``colour``, ``warp`` (with the landmark warp on), ``blend``, ``mark``) — exact where the process swaps one frame
at a time (a prediction worker per core); the stream benchmark adds them up against the
server's measured process CPU.

A frame without a face is returned **unchanged — the very same array** — with ``faces=0`` and no
mark: nothing synthetic was made, so nothing is labelled synthetic.

The mark is on by default. A request may turn it on; it may turn it off only when the operator
has set ``force_mark=False``; the operator turns it off for everyone with ``mark=False``.

Frames are ``uint8 (H, W, 3)`` **BGR**; model tensors are ``float32 (N, S, S, 3)`` BGR in [0, 1].
One FrameSwapper may be shared by threads: the detector and the model runtime lock themselves, and
nothing here keeps state between frames (per-stream state is the caller's smoother / tracker).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from faceswap.errors import InputError
from faceswap.faces.alignment import (INTERPOLATIONS, PASTE_INTERPOLATIONS, align_face, interpolation_flag,
                                      transform_points)
from faceswap.faces.masks import MaskSettings, closed_eyes_mask, face_mask, mouth_interior_mask
from faceswap.settings import setting
from faceswap.swapping.blending import BLEND_MODES, paste_face
from faceswap.swapping.color_transfer import COLOR_MODES, statistics_mask, transfer_color
from faceswap.swapping.landmark_warp import DISPLACEMENT_SMOOTHING, FEATURES_SHARE, landmark_warp
from faceswap.swapping.local_tone import local_tone_transfer, tone_weights
from faceswap.swapping.motion_blur import DEFAULT_EXPOSURE_S, blur_for_motion
from faceswap.swapping.sharpening import sharpen_for_paste
from faceswap.swapping.temporal import filter_face
from faceswap.swapping.watermark import MarkSettings, draw_mark

logger = logging.getLogger(__name__)

DIRECTIONS = ("a2b", "b2a")
# A local tone blur wider than the crop is one tone for the whole face: the mean colour already is.
MAX_LOCAL_TONE = 1.0
# A longer exposure than a fifth of a second is not a video camera's.
MAX_MOTION_BLUR_S = 0.2
STAGES = ("detect", "align", "model", "blend", "total")


@dataclass
class SwapSettings:
    """How frames are swapped; the defaults of every request (environment prefix FACESWAP_SWAP_)."""

    # Settings that were renamed: an old name in the environment is ignored with a warning naming the new one.
    RENAMED_SETTINGS: ClassVar[dict[str, str]] = {"landmark_warp_mode": "landmark_warp_features"}

    color: str = setting("illuminant", "colour transfer towards the original face (docs/merge-settings.md)", choices=COLOR_MODES)
    blend: str = setting("feather", "how the swapped face is blended back", choices=BLEND_MODES)
    mark: bool = setting(True, "draw the visible 'AI-generated' mark on merged frames")
    force_mark: bool = setting(True, "requests cannot turn the mark off (only the operator's --no-mark does)")
    max_faces: int = setting(4, "most faces swapped in one frame (largest first)")
    edge_fade: float = setting(0.12, "fade of the mask towards the model crop's border, as a share of the crop size")
    jpeg_quality: int = setting(85, "JPEG quality of merged frames sent back or written as .jpg")
    align_interpolation: str = setting("cubic", "resampling kernel cutting the face out (docs/merge-settings.md)",
                                       choices=tuple(INTERPOLATIONS))
    paste_interpolation: str = setting("cubic", "resampling kernel putting the face back", choices=PASTE_INTERPOLATIONS)
    local_tone: float = setting(0.2, "match the user's skin tone and light region by region: the blur's sigma as a share "
                                "of the crop (0 = off: only the mean colour is matched; faceswap/swapping/local_tone.py)")
    local_tone_lightness: float = setting(1.0, "how much of the user's shading the local tone match takes besides "
                                          "the skin's colour, in [0, 1]")
    local_tone_highlights: float = setting(0.0, "a second, finer local tone match that only darkens (the target's "
                                           "shine and pale patches; all of the user's lightness): its blur's sigma "
                                           "as a share of the crop (0 = off)")
    landmark_warp: float = setting(1.0, "warp the swapped face this share of the way to the user's head pose "
                                   "(and landmark_warp_features of the way on to the user's features), in [0, 1] "
                                   "(0 = off; faceswap/swapping/landmark_warp.py)")
    landmark_warp_radius: float = setting(0.3, "landmark warp: sigma of its smooth field as a share of the crop, "
                                          "in (0, 1]")
    landmark_warp_features: float = setting(FEATURES_SHARE, "landmark warp: the swapped face's own landmarks are "
                                            "turned to the user's head pose (its shape kept) and moved this share of "
                                            "the way on to the user's own, in [0, 1] (1 = every feature on the user's)")
    landmark_warp_smoothing: float = setting(DISPLACEMENT_SMOOTHING, "landmark warp on video: each frame's displacements "
                                             "move this share of the way from the previous frame's, in (0, 1] "
                                             "(1 = not smoothed)")
    landmark_warp_every: int = setting(1, "landmark warp on video: find the meshes and make the field on one frame in "
                                       "this many, warp the frames between with the last field (>= 1; CPU against "
                                       "how soon the warp follows the head)")
    gaze: float = setting(1.0, "landmark warp: move the swapped face's irises this share of the way to where the "
                          "user's eyes look, along the eye, in [0, 1] (0 = off; faceswap/swapping/gaze.py)")
    sharpen: float = setting(0.25, "unsharp-mask amount on the swapped face, scaled by how much the paste enlarges it (0 = off)")
    motion_blur: float = setting(DEFAULT_EXPOSURE_S, "video with landmark smoothing: smear the swapped face along the "
                                 "face's motion as the camera smears the user's: the exposure in seconds the smear "
                                 "stands for, in [0, 0.2] (0 = off; faceswap/swapping/motion_blur.py)")
    temporal: float = setting(0.5, "video with landmark smoothing: the most of the previous frame's swapped face kept "
                              "where the user's face did not change, in [0, 1) (0 = off; faceswap/swapping/temporal.py)")
    temporal_threshold: float = setting(0.06, "video: change of the user's aligned face (grey level, 0-1) at which the "
                                        "temporal filter keeps nothing of the previous frame")
    mouth: bool = setting(True, "keep the original mouth interior (teeth, tongue) where the mouth is open")
    eyes: bool = setting(True, "keep the original eyes where they are closed (blinks), where the model would draw them open")
    mask_landmarks: str = setting("current", "landmarks the face mask follows: this frame's detection ('current', jaw and "
                                  "brows as they are now) or the smoothed ones the face is aligned with",
                                  choices=("current", "smoothed"))
    mask: MaskSettings = dataclasses.field(default_factory=MaskSettings, metadata={"cli": False, "help": "face mask shape"})
    mark_style: MarkSettings = dataclasses.field(default_factory=MarkSettings, metadata={"cli": False, "help": "mark look"})


@dataclass
class SwapResult:
    """One swapped frame: ``frame`` uint8 (H, W, 3) BGR; ``faces`` swapped; ``timings_ms`` wall ms per
    stage; ``cpu_ms`` process CPU ms per stage (detect, align, model, colour, blend, mark)."""

    frame: np.ndarray
    faces: int
    timings_ms: dict[str, float]
    cpu_ms: dict[str, float] = field(default_factory=dict)


@functools.lru_cache(maxsize=8)
def crop_border_fade(size: int, share: float) -> np.ndarray:
    """float32 (size, size) in [0, 1]: 0 on the crop's border rising smoothly to 1 at ``share * size`` inside.

    The model crop rarely contains the whole face hull; multiplying the face mask by this keeps the
    crop's own edge from showing as a seam after blending.
    """
    width = max(share * size, 1.0)
    centres = np.arange(size, dtype=np.float32) + 0.5
    distance = np.minimum(centres, size - centres)
    ramp = np.clip(distance / width, 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep
    fade = np.minimum.outer(ramp, ramp).astype(np.float32)
    fade.flags.writeable = False
    return fade


def _milliseconds(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 3)


class _CpuStages:
    """Process CPU ms (``time.process_time``, all threads) added up per stage name, lap by lap;
    disabled, it costs nothing (reading the process CPU clock is a system call summing all threads)."""

    def __init__(self, enabled: bool = True) -> None:
        self.stages: dict[str, float] = {}
        self.enabled = enabled
        self._last = time.process_time() if enabled else 0.0

    def lap(self, stage: str) -> None:
        if not self.enabled:
            return
        now = time.process_time()
        self.stages[stage] = self.stages.get(stage, 0.0) + (now - self._last) * 1000.0
        self._last = now


def check_swap_settings(settings: SwapSettings) -> None:
    """Refuse unusable swap settings with one InputError sentence (FrameSwapper does this first;
    convert calls it before the model loads)."""
    _check_modes(settings.color, settings.blend)
    interpolation_flag(settings.align_interpolation)
    if settings.paste_interpolation not in PASTE_INTERPOLATIONS:
        raise InputError(f"unknown paste interpolation {settings.paste_interpolation!r}: "
                         f"expected one of {', '.join(PASTE_INTERPOLATIONS)}")
    if settings.mask_landmarks not in ("current", "smoothed"):
        raise InputError(f"mask_landmarks must be 'current' or 'smoothed', not {settings.mask_landmarks!r}")
    for name in ("local_tone", "local_tone_highlights"):
        value = getattr(settings, name)
        if not 0.0 <= value <= MAX_LOCAL_TONE:
            raise InputError(f"{name} must be in [0, {MAX_LOCAL_TONE:g}] (0 = off), not {value}")
    if not 0.0 <= settings.local_tone_lightness <= 1.0:
        raise InputError(f"local_tone_lightness must be in [0, 1], not {settings.local_tone_lightness}")
    if not 0.0 <= settings.landmark_warp <= 1.0:
        raise InputError(f"landmark_warp must be in [0, 1] (0 = off), not {settings.landmark_warp}")
    if not 0.0 < settings.landmark_warp_radius <= 1.0:
        raise InputError(f"landmark_warp_radius must be in (0, 1], not {settings.landmark_warp_radius}")
    if not 0.0 < settings.landmark_warp_smoothing <= 1.0:
        raise InputError(f"landmark_warp_smoothing must be in (0, 1] (1 = not smoothed), not {settings.landmark_warp_smoothing}")
    every = settings.landmark_warp_every
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InputError(f"landmark_warp_every must be a whole number >= 1, not {every!r}")
    if not 0.0 <= settings.landmark_warp_features <= 1.0:
        raise InputError(f"landmark_warp_features must be in [0, 1] (0 = the head pose only, 1 = every feature on "
                         f"the user's), not {settings.landmark_warp_features}")
    if not 0.0 <= settings.gaze <= 1.0:
        raise InputError(f"gaze must be in [0, 1] (0 = off, 1 = the user's gaze), not {settings.gaze}")
    if not 0.0 <= settings.motion_blur <= MAX_MOTION_BLUR_S:
        raise InputError(f"motion_blur must be in [0, {MAX_MOTION_BLUR_S:g}] seconds of exposure (0 = off), "
                         f"not {settings.motion_blur}")
    if not 0.0 <= settings.temporal < 1.0:
        raise InputError(f"temporal must be in [0, 1), not {settings.temporal}")
    if not settings.temporal_threshold > 0.0:
        raise InputError(f"temporal_threshold must be > 0, not {settings.temporal_threshold}")


def _check_modes(color: str, blend: str) -> None:
    if color not in COLOR_MODES:
        raise InputError(f"unknown colour mode {color!r}: expected one of {', '.join(COLOR_MODES)}")
    if blend not in BLEND_MODES:
        raise InputError(f"unknown blend mode {blend!r}: expected one of {', '.join(BLEND_MODES)}")


class FrameSwapper:
    """Swap every face of a BGR frame with the other identity of a two-identity model.

    model: a SwapModel (faceswap.model.runtime.load_swap_model) with ``input_size``, ``layout`` and
    ``swap(faces float32 (N, S, S, 3) BGR [0, 1], direction) -> same``;
    detector: anything with ``detect(frame uint8 (H, W, 3) BGR) -> list[Face]`` largest first
    (default: a new ``FaceDetector``); settings: ``SwapSettings``.
    """

    def __init__(self, model, detector=None, settings: SwapSettings | None = None) -> None:
        check_swap_settings(settings or SwapSettings())
        self.model = model
        if detector is None:
            from faceswap.faces.detection import FaceDetector

            detector = FaceDetector()
        self.detector = detector
        self.settings = settings or SwapSettings()

    def _landmark_model(self):
        """The process's face landmark model (the landmark warp's), loaded on first use."""
        from faceswap.faces.landmark_model import shared_landmark_model

        return shared_landmark_model()

    def effective_mark(self, requested: bool | None) -> bool:
        """Whether a merged frame gets the mark, given a request's ``mark`` option (None = default)."""
        if requested is None:
            return self.settings.mark
        if not requested and self.settings.force_mark:
            return self.settings.mark
        return bool(requested)

    def swap_frame(self, frame: np.ndarray, direction: str = "a2b", smoother=None, timestamp_s: float | None = None,
                   *, color: str | None = None, blend: str | None = None, mark: bool | None = None,
                   detector=None, measure_cpu: bool = False) -> SwapResult:
        """Swap all faces of ``frame``.

        frame: uint8 (H, W, 3) BGR (not modified); direction: ``"a2b"`` or ``"b2a"``;
        smoother: this stream's LandmarkSmoother (video), or None for stills;
        timestamp_s: the frame's time in seconds for the smoother (default: monotonic clock);
        color / blend / mark: per-request overrides of the settings (None = the settings' value);
        detector: a per-stream detector (e.g. a FaceTracker) instead of the shared one;
        measure_cpu: fill ``SwapResult.cpu_ms`` (process CPU ms per stage).
        Returns SwapResult(frame uint8 (H, W, 3) BGR, faces, timings_ms with detect, align,
        model, blend, total). With no face, ``result.frame is frame``.
        Raises InputError for a bad frame, direction or option.
        """
        started = time.perf_counter()
        cpu = _CpuStages(measure_cpu)
        if direction not in DIRECTIONS:
            raise InputError(f"unknown direction {direction!r}: expected 'a2b' or 'b2a'")
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError("the frame must be a uint8 (H, W, 3) BGR image")
        color = self.settings.color if color is None else color
        blend = self.settings.blend if blend is None else blend
        _check_modes(color, blend)
        marked = self.effective_mark(mark)

        faces = (detector or self.detector).detect(frame)[: max(self.settings.max_faces, 0)]
        detected = time.perf_counter()
        cpu.lap("detect")
        timings = {"detect": _milliseconds(started, detected), "align": 0.0, "model": 0.0, "blend": 0.0}
        if not faces:
            timings["total"] = _milliseconds(started, time.perf_counter())
            return SwapResult(frame=frame, faces=0, timings_ms=timings, cpu_ms=cpu.stages)

        landmarks = detected_landmarks = [face.landmarks for face in faces]
        now = time.monotonic() if timestamp_s is None else float(timestamp_s)
        if smoother is not None:
            landmarks = smoother.smooth_many(landmarks, now)
        layout = self.model.layout
        size = layout.size
        fade = crop_border_fade(size, self.settings.edge_fade)
        batch = np.empty((len(landmarks), size, size, 3), dtype=np.float32)
        # tracks: each face's per-track dict (the smoother's; None for stills), which the warp, the
        # temporal filter and the motion blur keep their state in
        matrices, masks, statistics, tones, features, tracks = [], [], [], [], [], []
        tone = self.settings.local_tone > 0 or self.settings.local_tone_highlights > 0
        tone = tone and color != "none"   # the tone match corrects a colour transfer: none, nothing to do
        for face_index, (points, current) in enumerate(zip(landmarks, detected_landmarks)):
            crop, matrix = align_face(frame, points, layout, self.settings.align_interpolation)
            if not np.all(np.isfinite(matrix)):
                logger.debug("degenerate landmarks; face skipped")
                continue
            np.multiply(crop, np.float32(1.0 / 255.0), out=batch[len(matrices)])
            crop_points = transform_points(current if self.settings.mask_landmarks == "current" else points, matrix)
            mask = face_mask(crop_points, size, self.settings.mask)
            mask *= fade
            # Colour statistics from the whole face's skin, before the person's own open mouth and
            # closed eyes are cut out of the mask: which features are kept must not shift the colour.
            statistics.append(statistics_mask(crop_points, mask))
            if tone:
                tones.append(tone_weights(crop_points, mask, batch[len(matrices)], statistics[-1]))
            if self.settings.landmark_warp > 0:
                # the swapped face's landmarks are found on the whole face, whatever features are kept
                features.append((transform_points(current, matrix), faces[face_index].mesh, mask.copy()))
            if self.settings.mouth:
                mask *= 1.0 - mouth_interior_mask(crop_points, size)
            if self.settings.eyes:
                mask *= 1.0 - closed_eyes_mask(crop_points, size)
            matrices.append(matrix)
            tracks.append(smoother.track_states[face_index] if smoother is not None else None)
            masks.append(mask)
        batch = batch[: len(matrices)]
        aligned = time.perf_counter()
        cpu.lap("align")
        timings["align"] = _milliseconds(detected, aligned)
        if not matrices:
            timings["total"] = _milliseconds(started, time.perf_counter())
            return SwapResult(frame=frame, faces=0, timings_ms=timings, cpu_ms=cpu.stages)

        swapped = np.asarray(self.model.swap(batch, direction), dtype=np.float32)
        modelled = time.perf_counter()
        cpu.lap("model")
        timings["model"] = _milliseconds(aligned, modelled)

        output = frame.copy()
        # Smallest face first so the largest one ends up on top where faces overlap.
        for index in reversed(range(len(matrices))):
            corrected = transfer_color(swapped[index], batch[index], statistics[index], color)
            if features:
                # after the (global) colour transfer, so the landmark model sees the face in the user's
                # colours; before the local tone match, so the user's tone lands where the features now are
                cpu.lap("colour")
                targets, mesh, whole_face = features[index]
                corrected = landmark_warp(frame, matrices[index], corrected, whole_face, targets, mesh,
                                          self._landmark_model(), self.settings.landmark_warp,
                                          self.settings.landmark_warp_radius, tracks[index], (id(self.model), direction),
                                          self.settings.landmark_warp_features, self.settings.landmark_warp_smoothing,
                                          self.settings.landmark_warp_every, self.settings.gaze)
                cpu.lap("warp")
            if tone and self.settings.local_tone > 0:
                corrected = local_tone_transfer(corrected, batch[index], tones[index], self.settings.local_tone,
                                                self.settings.local_tone_lightness)
            if tone and self.settings.local_tone_highlights > 0:
                corrected = local_tone_transfer(corrected, batch[index], tones[index],
                                                self.settings.local_tone_highlights, darken_only=True)
            if tracks[index] is not None and self.settings.temporal > 0:
                corrected = filter_face(tracks[index], batch[index], corrected, self.settings.temporal,
                                        self.settings.temporal_threshold, key=(id(self.model), direction, color))
            corrected = sharpen_for_paste(corrected, matrices[index], self.settings.sharpen)
            if tracks[index] is not None:
                corrected = blur_for_motion(tracks[index], corrected, matrices[index], now, self.settings.motion_blur)
            cpu.lap("colour")
            paste_face(output, corrected, masks[index], matrices[index], blend, self.settings.paste_interpolation)
            cpu.lap("blend")
        if marked:
            draw_mark(output, self.settings.mark_style)
            cpu.lap("mark")
        finished = time.perf_counter()
        timings["blend"] = _milliseconds(modelled, finished)
        timings["total"] = _milliseconds(started, finished)
        return SwapResult(frame=output, faces=len(matrices), timings_ms=timings, cpu_ms=cpu.stages)
