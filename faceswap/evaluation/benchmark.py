"""The quality benchmark: how good a swap model's output is on real clips and stills, as numbers.

Every clip (or still) goes through the same per-frame pipeline as ``convert`` (FrameSwapper with
landmark smoothing, the model's layout, colour transfer and blending, no mark), twice: once with
the model and once with the pass-through model (faceswap.evaluation.passthrough), whose output is
the **resolution ceiling** (the same merge without its motion blur: the pass-through's face already
carries the camera's smear). By default both outputs are encoded as ``convert`` encodes them
(H.264 at ``crf`` for clips, JPEG at the swap settings' quality for .jpg stills) and decoded again
before they are measured. Then, per frame with a face in the input:

* identity — dlib's ResNet descriptor (faceswap.evaluation.identity) of input and output:
  ``output_to_target`` (distance to the target's mean descriptor), ``output_to_source`` (to the
  input frame's), ``input_to_target`` (the baseline); a frame is *judged target* when
  ``output_to_target < 0.6`` and ``output_to_target < output_to_source``;
* detail — variance of the Laplacian in the inner face (faceswap.evaluation.detail) of input,
  output and ceiling; ``ratio`` = median of output / input, ``ceiling_ratio`` the same for the
  pass-through, ``share_of_ceiling`` = ratio / ceiling_ratio;
* expression — mouth and eye opening over the inter-ocular distance (faceswap.evaluation.expression),
  correlated input vs output over the clip;
* ``gaze_error`` — where the eyes look: the iris centre's position along the eye (corner to
  corner, faceswap.faces.iris), output against input, mean absolute difference in eye widths over
  the eyes found open in both (a face drawn looking elsewhere, or cross-eyed, reads ~0.1-0.2);
* tone — the colour difference (Delta E*ab) between input and output blurred over a tenth of the
  face, 90th percentile over the bare face (faceswap.evaluation.tone): patches of the target's own
  skin tone and light that the colour transfer leaves; ``tone_error`` is its mean over the frames;
* pose — yaw, pitch, roll from the landmarks (faceswap.evaluation.head_pose), mean absolute
  difference input vs output in degrees;
* ``landmark_error`` — mean distance of the output's landmarks from the input's over the
  inter-ocular distance; ``face_kept`` — share of frames whose output still has a detectable face;
  ``flicker_ratio`` — mean absolute frame-to-frame change inside the face mask, output over input;
  ``registered_flicker_ratio`` — the same in the face's own frame: input, output and ceiling all
  cut out aligned to each frame's input landmarks (one matrix for the three), so the head's motion
  through the frame is taken out and what is left is expression and what the swap adds (shimmer,
  features that move against the face). A diagnostic beside the goal's ``flicker_ratio``: a face
  with higher-contrast features than the user's raises that one on every head turn, not this one.

Landmark error, pose error, expression correlations and flicker are also given for the ceiling:
what the detector's own noise and the pipeline alone contribute.

Python (``evaluate_model(model, ...)`` takes an already loaded model)::

    report = evaluate_model_dir("models/default", ["../shared/data/clips/d12.mp4"],
                                target="../shared/data/clips/d6.mp4",
                                settings=QualitySettings(max_frames=90, target_first_frame=900))

Frames are uint8 (H, W, 3) BGR throughout.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from faceswap.conversion.video_io import VIDEO_SUFFIXES, probe_video, read_frames
from faceswap.errors import InputError
from faceswap.evaluation.contact_sheet import ContactSheet
from faceswap.evaluation.detail import inner_face_mask, laplacian_variance
from faceswap.evaluation.encoding import H264RoundTrip
from faceswap.evaluation.expression import correlation, eye_opening, mouth_opening
from faceswap.evaluation.head_pose import ANGLES, head_pose, pose_difference
from faceswap.evaluation.identity import (SAME_PERSON_DISTANCE, FaceRecogniser, TargetIdentity, descriptor_distance,
                                          load_target_identity)
from faceswap.evaluation.passthrough import PassThroughModel
from faceswap.evaluation.tone import tone_error
from faceswap.faces.alignment import (EXTRACT_LAYOUT, FaceLayout, alignment_matrix, transform_points, unalign_image,
                                      warp_to_crop)
from faceswap.faces.landmarks import inter_ocular_distance
from faceswap.faces.masks import face_mask
from faceswap.images import IMAGE_SUFFIXES, decode_image, encode_jpeg, list_images, read_image
from faceswap.model.runtime import BACKENDS
from faceswap.settings import setting
from faceswap.swapping.frame_swapper import DIRECTIONS, FrameSwapper, SwapSettings

logger = logging.getLogger(__name__)

ENV_PREFIX = "FACESWAP_QUALITY_"


@dataclass
class QualitySettings:
    """How the benchmark runs (environment prefix FACESWAP_QUALITY_)."""

    direction: str = setting("a2b", "swap direction to evaluate (a2b: faces come out as the model's B)",
                             choices=DIRECTIONS)
    max_frames: int = setting(90, "frames of each clip to evaluate, from its start (0 = all)")
    target_first_frame: int = setting(0, "first frame of a target CLIP to use (e.g. 900: the held-out tail of d6)")
    target_faces: int = setting(60, "most target faces to average, evenly spaced (0 = all)")
    encode: bool = setting(True, "encode the outputs as `convert` does (H.264 at --crf; JPEG for .jpg stills) "
                                 "before measuring; --no-encode measures them lossless")
    crf: int = setting(18, "H.264 quality of the encoded outputs (convert's default is 18)")
    ceiling_size: int = setting(0, "crop size of the pass-through model in px (0 = the model's input size)")
    sheet_rows: int = setting(8, "frames shown on each clip's contact sheet (0 = no sheet)")
    smooth: bool = setting(True, "smooth landmarks over time in clips, as convert does")
    backend: str = setting("tflite", "model runtime (tflite or savedmodel)", choices=BACKENDS)


class _KnownFaces:
    """A detector that answers with faces found already: both pipelines and the measures share one
    detection of the input frame (FrameSwapper's per-call ``detector``)."""

    def __init__(self, faces: list) -> None:
        self.faces = faces

    def detect(self, frame: np.ndarray) -> list:
        return self.faces


def _box_overlap(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = max(0.0, min(first[2], second[2]) - max(first[0], second[0]))
    height = max(0.0, min(first[3], second[3]) - max(first[1], second[1]))
    union = ((first[2] - first[0]) * (first[3] - first[1]) + (second[2] - second[0]) * (second[3] - second[1])
             - width * height)
    return float(width * height / max(union, 1e-6))


def _matching_face(faces: list, box: np.ndarray):
    """The face of ``faces`` that overlaps ``box`` most (None if none overlaps)."""
    best = max(faces, key=lambda face: _box_overlap(face.box, box), default=None)
    return best if best is not None and _box_overlap(best.box, box) > 0.1 else None


def _median(values) -> float | None:
    values = [value for value in values if value is not None and np.isfinite(value)]
    return float(np.median(values)) if values else None


def _mean(values) -> float | None:
    values = [value for value in values if value is not None and np.isfinite(value)]
    return float(np.mean(values)) if values else None


def _rounded(value, digits: int = 4):
    if isinstance(value, dict):
        return {key: _rounded(item, digits) for key, item in value.items()}
    if isinstance(value, float):
        return round(value, digits)
    return value


# The face's own frame for the registered flicker: 128 px, the extraction layout's framing.
REGISTERED_LAYOUT = FaceLayout(128, EXTRACT_LAYOUT.padding_ratio)


def _registered(images: tuple[np.ndarray, ...], landmarks68: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The images (uint8 (H, W, 3) BGR) cut out aligned to ``landmarks68`` (REGISTERED_LAYOUT, one
    matrix for all) as int16 (S, S, 3), and that layout's face mask there, bool (S, S)."""
    matrix = alignment_matrix(landmarks68, REGISTERED_LAYOUT)
    size = REGISTERED_LAYOUT.size
    crops = tuple(warp_to_crop(image, matrix, size, "linear").astype(np.int16) for image in images)
    return crops, face_mask(transform_points(landmarks68, matrix), size) > 0.5


def _face_region(landmarks68: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """bool (H, W): the face mask (hull + forehead, as blending uses) of the landmarks, in frame px."""
    matrix = alignment_matrix(landmarks68, EXTRACT_LAYOUT)
    crop_mask = face_mask(transform_points(landmarks68, matrix), EXTRACT_LAYOUT.size)
    return unalign_image(crop_mask, matrix, shape) > 0.5


class _Measures:
    """Per-frame measures of one clip or still, and their summary."""

    def __init__(self) -> None:
        self.frames = 0
        self.with_face = 0
        self.kept = 0
        self.to_target: list[float] = []
        self.frame_indices: list[int] = []  # frame number of each entry of the identity lists
        self.to_source: list[float] = []
        self.input_to_target: list[float] = []
        self.judged_target: list[bool] = []
        self.detail: dict[str, list[float]] = {"input": [], "output": [], "ceiling": []}
        self.ratios: dict[str, list[float]] = {"output": [], "ceiling": []}
        self.landmark_error: dict[str, list[float]] = {"output": [], "ceiling": []}
        self.pose_error: dict[str, list[dict]] = {"output": [], "ceiling": []}
        # (input, output) opening pairs of the frames where the output has landmarks
        self.mouth: dict[str, list[tuple[float, float]]] = {"output": [], "ceiling": []}
        self.eye: dict[str, list[tuple[float, float]]] = {"output": [], "ceiling": []}
        # per eye found in both: |output's - input's| iris position along the eye, in eye widths
        self.gaze: dict[str, list[float]] = {"output": [], "ceiling": []}
        self.flicker: dict[str, list[float]] = {"input": [], "output": [], "ceiling": []}
        self.registered_flicker: dict[str, list[float]] = {"input": [], "output": [], "ceiling": []}
        self._previous_registered: tuple | None = None
        self.tone: dict[str, list[float]] = {"output": [], "ceiling": []}
        self._previous: tuple | None = None

    def add_landmarks(self, kind: str, frame_shape, source: np.ndarray, source_pose, face) -> None:
        """Landmark, pose and expression measures of ``face`` (output or ceiling) against the input."""
        if face is None:
            return
        points = face.landmarks
        self.landmark_error[kind].append(float(np.linalg.norm(points - source, axis=1).mean()
                                               / max(inter_ocular_distance(source), 1e-6)))
        pose = head_pose(points, frame_shape)
        if pose is not None and source_pose is not None:
            self.pose_error[kind].append(pose_difference(source_pose, pose))
        self.mouth[kind].append((mouth_opening(source), mouth_opening(points)))
        self.eye[kind].append((eye_opening(source), eye_opening(points)))

    def add_gaze(self, kind: str, source_gazes: list, face, image: np.ndarray) -> None:
        """Gaze error of ``face`` (output or ceiling, found in ``image``, uint8 BGR) against the
        input's ``source_gazes`` (faceswap.faces.iris.gazes): per eye found in both, the distance
        between the irises' positions along the eye, in eye widths."""
        if face is None or face.mesh is None or not any(gaze is not None for gaze in source_gazes):
            return
        from faceswap.faces.iris import gazes

        for before, after in zip(source_gazes, gazes(np.ascontiguousarray(image[..., ::-1]), face.mesh)):
            if before is not None and after is not None:
                self.gaze[kind].append(float(abs(after[0] - before[0])))

    def add_flicker(self, frame, output, ceiling, region: np.ndarray | None, landmarks68: np.ndarray | None = None) -> None:
        """Frame-to-frame change inside the face region (None region: no face, the chain breaks), and
        with the input's ``landmarks68`` the same in the face's own frame (``registered_flicker_ratio``)."""
        registered = _registered((frame, output, ceiling), landmarks68) if landmarks68 is not None else None
        before, self._previous_registered = self._previous_registered, registered
        if before is not None and registered is not None:
            both = registered[1] & before[1]
            if both.any():
                for key, now, then in zip(("input", "output", "ceiling"), registered[0], before[0]):
                    self.registered_flicker[key].append(float(np.abs(now - then)[both].mean()))
        previous, self._previous = self._previous, (frame, output, ceiling, region) if region is not None else None
        if previous is None or region is None:
            return
        both = region & previous[3]
        if not both.any():
            return
        for key, now, before in zip(("input", "output", "ceiling"), (frame, output, ceiling), previous[:3]):
            self.flicker[key].append(float(np.abs(now.astype(np.int16) - before.astype(np.int16))[both].mean()))

    def _farthest_frames(self, count: int = 5) -> list[list]:
        """[frame, distance to the target] of the ``count`` outputs farthest from the target: where to look."""
        order = np.argsort(self.to_target)[::-1][:count]
        return [[self.frame_indices[i], round(float(self.to_target[i]), 4)] for i in order]

    def _correlations(self, pairs: dict[str, list[tuple[float, float]]]) -> dict:
        result = {}
        for kind, values in pairs.items():
            series = np.asarray(values, dtype=np.float64).reshape(-1, 2)
            result[kind] = correlation(series[:, 0], series[:, 1])
        return result

    def _pose(self, kind: str) -> dict | None:
        errors = self.pose_error[kind]
        if not errors:
            return None
        result = {angle: float(np.mean([error[angle] for error in errors])) for angle in ANGLES}
        result["mean"] = float(np.mean([result[angle] for angle in ANGLES]))
        return result

    def _flicker_ratio(self, kind: str, registered: bool = False) -> float | None:
        changes = self.registered_flicker if registered else self.flicker
        if not changes["input"]:
            return None
        return float(np.mean(changes[kind]) / max(np.mean(changes["input"]), 1e-6))

    def summary(self, still: bool) -> dict:
        to_target, to_source = _mean(self.to_target), _mean(self.to_source)
        if to_target is not None and to_target < SAME_PERSON_DISTANCE and to_target < to_source:
            verdict = "target"
        elif to_source is not None and to_source < SAME_PERSON_DISTANCE:
            verdict = "source"
        else:
            verdict = "neither"
        ratio, ceiling_ratio = _median(self.ratios["output"]), _median(self.ratios["ceiling"])
        result = {
            "frames": self.frames,
            "frames_with_face": self.with_face,
            "face_kept": self.kept / self.with_face if self.with_face else None,
            "identity": {
                "output_to_target": to_target,
                "output_to_source": to_source,
                "input_to_target": _mean(self.input_to_target),
                "judged_target_share": float(np.mean(self.judged_target)) if self.judged_target else None,
                "farthest_frames": self._farthest_frames(),
                "verdict": verdict,
            },
            "detail": {
                "input": _median(self.detail["input"]),
                "output": _median(self.detail["output"]),
                "ceiling": _median(self.detail["ceiling"]),
                "ratio": ratio,
                "ceiling_ratio": ceiling_ratio,
                "share_of_ceiling": ratio / ceiling_ratio if ratio is not None and ceiling_ratio else None,
            },
            "tone_error": _mean(self.tone["output"]),
            "ceiling_tone_error": _mean(self.tone["ceiling"]),
            "landmark_error": _mean(self.landmark_error["output"]),
            "ceiling_landmark_error": _mean(self.landmark_error["ceiling"]),
            "pose_error_deg": self._pose("output"),
            "ceiling_pose_error_deg": self._pose("ceiling"),
            "gaze_error": _mean(self.gaze["output"]),
            "ceiling_gaze_error": _mean(self.gaze["ceiling"]),
        }
        if still:
            result["expression"] = {
                "mouth_opening": dict(zip(("input", "output"), self.mouth["output"][0])) if self.mouth["output"] else None,
                "eye_opening": dict(zip(("input", "output"), self.eye["output"][0])) if self.eye["output"] else None,
            }
        else:
            mouth, eye = self._correlations(self.mouth), self._correlations(self.eye)
            inputs = np.asarray(self.mouth["output"], dtype=np.float64).reshape(-1, 2)[:, 0]
            result["expression"] = {
                "mouth_correlation": mouth["output"], "eye_correlation": eye["output"],
                "ceiling_mouth_correlation": mouth["ceiling"], "ceiling_eye_correlation": eye["ceiling"],
                "input_mouth_opening_range": float(np.ptp(inputs)) if inputs.size else None,
            }
            result["flicker_ratio"] = self._flicker_ratio("output")
            result["ceiling_flicker_ratio"] = self._flicker_ratio("ceiling")
            result["registered_flicker_ratio"] = self._flicker_ratio("output", registered=True)
            result["ceiling_registered_flicker_ratio"] = self._flicker_ratio("ceiling", registered=True)
        return _rounded(result)


class QualityBenchmark:
    """Measure one model on clips and stills against one target person.

    model: a loaded SwapModel (or anything FrameSwapper accepts); target: TargetIdentity
    (``load_target_identity``); detector: a FaceDetector (closed by the caller);
    recogniser: a FaceRecogniser; swap_settings: the pipeline's settings (the mark is turned off).
    """

    def __init__(self, model, target: TargetIdentity, detector, recogniser: FaceRecogniser,
                 settings: QualitySettings | None = None, swap_settings: SwapSettings | None = None) -> None:
        self.settings = settings or QualitySettings()
        swap_settings = dataclasses.replace(swap_settings or SwapSettings(), mark=False, force_mark=False)
        self.model = model
        self.ceiling_model = PassThroughModel.like(model, self.settings.ceiling_size)
        self.target = target
        self.detector = detector
        self.recogniser = recogniser
        self.swapper = FrameSwapper(model, detector, swap_settings)
        # The pass-through returns the user's own face, which already carries the camera's smear:
        # blurring it again for the motion would lower the ceiling below what a perfect model reaches.
        self.ceiling_swapper = FrameSwapper(self.ceiling_model, detector,
                                            dataclasses.replace(swap_settings, motion_blur=0.0))

    # -- the pipeline ---------------------------------------------------------------------------------

    def _swap_both(self, frame: np.ndarray, faces: list, timestamp_s: float | None, smoothers) -> tuple:
        known = _KnownFaces(faces)
        direction = self.settings.direction
        output = self.swapper.swap_frame(frame, direction, smoothers[0], timestamp_s, detector=known).frame
        ceiling = self.ceiling_swapper.swap_frame(frame, direction, smoothers[1], timestamp_s, detector=known).frame
        return output, ceiling

    def _clip_frames(self, clip: Path, progress: bool) -> Iterator[tuple[int, np.ndarray, list, np.ndarray, np.ndarray]]:
        """(index, input, faces, output, ceiling) for the clip's first max_frames frames, the outputs
        encoded and decoded again when settings.encode."""
        info = probe_video(clip)
        limit = self.settings.max_frames or info.frame_count or None
        smoothers = (None, None)
        if self.settings.smooth:
            from faceswap.faces.smoothing import LandmarkSmoother

            smoothers = (LandmarkSmoother(), LandmarkSmoother())

        def inputs() -> Iterator[tuple[int, np.ndarray]]:
            for index, frame in enumerate(read_frames(clip)):
                if limit and index >= limit:
                    return
                yield index, frame

        bar = tqdm(total=limit, unit="frame", desc=f"quality {clip.name}", disable=not progress)
        if not self.settings.encode:
            for index, frame in inputs():
                faces = self.detector.detect(frame)
                output, ceiling = self._swap_both(frame, faces, index / info.fps, smoothers)
                bar.update(1)
                yield index, frame, faces, output, ceiling
            bar.close()
            return
        found: list[list] = []
        with tempfile.TemporaryDirectory(prefix="quality-") as folder:
            encoded = [H264RoundTrip(Path(folder) / f"{name}.mp4", info.fps, self.settings.crf)
                       for name in ("output", "ceiling")]
            try:
                for index, frame in inputs():
                    faces = self.detector.detect(frame)
                    for writer, image in zip(encoded, self._swap_both(frame, faces, index / info.fps, smoothers)):
                        writer.write(image)
                    found.append(faces)
                    bar.update(1)
            finally:
                bar.close()
                for writer in encoded:
                    writer.close()
            for (index, frame), output, ceiling in zip(inputs(), encoded[0].frames(), encoded[1].frames()):
                yield index, frame, found[index], output, ceiling

    # -- measuring ------------------------------------------------------------------------------------

    def _measure(self, measures: _Measures, frame: np.ndarray, faces: list, output: np.ndarray,
                 ceiling: np.ndarray, index: int = 0) -> dict | None:
        """Add one frame's measures; returns the identity figures of the frame (None without a face)."""
        measures.frames += 1
        if not faces:
            measures.add_flicker(frame, output, ceiling, None)
            return None
        face = faces[0]
        source = face.landmarks
        measures.with_face += 1
        output_face = _matching_face(self.detector.detect(output), face.box)
        ceiling_face = _matching_face(self.detector.detect(ceiling), face.box)
        measures.kept += output_face is not None

        input_descriptor = self.recogniser.descriptor(frame, face.box)
        output_descriptor = self.recogniser.descriptor(output, (output_face or face).box)
        to_target = descriptor_distance(output_descriptor, self.target.mean)
        to_source = descriptor_distance(output_descriptor, input_descriptor)
        judged = to_target < SAME_PERSON_DISTANCE and to_target < to_source
        measures.to_target.append(to_target)
        measures.frame_indices.append(index)
        measures.to_source.append(to_source)
        measures.input_to_target.append(descriptor_distance(input_descriptor, self.target.mean))
        measures.judged_target.append(judged)

        inner = inner_face_mask(source, frame.shape)
        details = {key: laplacian_variance(image, inner) for key, image in
                   (("input", frame), ("output", output), ("ceiling", ceiling))}
        for key, value in details.items():
            measures.detail[key].append(value)
        if details["input"] > 0:
            measures.ratios["output"].append(details["output"] / details["input"])
            measures.ratios["ceiling"].append(details["ceiling"] / details["input"])

        for key, image in (("output", output), ("ceiling", ceiling)):
            measures.tone[key].append(tone_error(frame, image, source))

        source_pose = head_pose(source, frame.shape)
        measures.add_landmarks("output", frame.shape, source, source_pose, output_face)
        measures.add_landmarks("ceiling", frame.shape, source, source_pose, ceiling_face)
        if face.mesh is not None:
            from faceswap.faces.iris import gazes

            source_gazes = gazes(np.ascontiguousarray(frame[..., ::-1]), face.mesh)
            measures.add_gaze("output", source_gazes, output_face, output)
            measures.add_gaze("ceiling", source_gazes, ceiling_face, ceiling)
        measures.add_flicker(frame, output, ceiling, _face_region(source, frame.shape), source)
        return {"to_target": to_target, "judged": judged, "box": face.box}

    def _sheet_label(self, index: int, figures: dict | None) -> str:
        if figures is None:
            return f"frame {index}: no face"
        return f"frame {index}\nd={figures['to_target']:.2f} {'target' if figures['judged'] else 'not target'}"

    def evaluate_clip(self, clip: str | Path, sheet_path: Path | None = None, progress: bool = False) -> dict:
        """The measures of the module docstring for one clip; InputError when it cannot be read or
        has no face in the frames evaluated. Writes the contact sheet PNG to ``sheet_path`` if given."""
        clip = Path(clip)
        started = time.perf_counter()
        info = probe_video(clip)
        measures = _Measures()
        total = min(self.settings.max_frames or info.frame_count, info.frame_count or self.settings.max_frames)
        step = max(1, -(-max(total, 1) // self.settings.sheet_rows)) if self.settings.sheet_rows > 0 else 0
        sheet = ContactSheet(f"{clip.name} -> target {self.target.label}")
        for index, frame, faces, output, ceiling in self._clip_frames(clip, progress):
            figures = self._measure(measures, frame, faces, output, ceiling, index)
            if step and index % step == 0 and len(sheet.rows) < self.settings.sheet_rows:
                sheet.add(frame, output, ceiling, figures["box"] if figures else None, self._sheet_label(index, figures))
        if measures.with_face == 0:
            raise InputError(f"{clip}: no usable face in the {measures.frames} frames evaluated")
        result = {"media": clip.name, "path": str(clip), "kind": "clip"}
        result.update(measures.summary(still=False))
        if sheet_path is not None and sheet.rows:
            result["contact_sheet"] = str(sheet.save(sheet_path))
        result["seconds"] = round(time.perf_counter() - started, 1)
        return result

    def evaluate_still(self, still: str | Path, sheet_path: Path | None = None) -> dict:
        """Per-frame measures for one picture; InputError when unreadable or without a face."""
        still = Path(still)
        started = time.perf_counter()
        frame = read_image(still)
        faces = self.detector.detect(frame)
        if not faces:
            raise InputError(f"{still}: no usable face in the picture")
        output, ceiling = self._swap_both(frame, faces, None, (None, None))
        if self.settings.encode and still.suffix.lower() in (".jpg", ".jpeg"):
            quality = self.swapper.settings.jpeg_quality
            output, ceiling = (decode_image(encode_jpeg(image, quality)) for image in (output, ceiling))
        measures = _Measures()
        figures = self._measure(measures, frame, faces, output, ceiling)
        result = {"media": still.name, "path": str(still), "kind": "still"}
        result.update(measures.summary(still=True))
        if sheet_path is not None:
            sheet = ContactSheet(f"{still.name} -> target {self.target.label}")
            sheet.add(frame, output, ceiling, faces[0].box, self._sheet_label(0, figures))
            result["contact_sheet"] = str(sheet.save(sheet_path))
        result["seconds"] = round(time.perf_counter() - started, 1)
        return result

    def evaluate(self, path: str | Path, output_dir: Path | None = None, progress: bool = False,
                 sheet_tag: str = "") -> dict:
        """A clip or a still, by its suffix; the contact sheet goes to
        ``output_dir/<stem>_<suffix>[_<sheet_tag>].png``, e.g. d12_mp4.png."""
        path = Path(path)
        tag = re.sub(r"[^A-Za-z0-9.=-]+", "-", sheet_tag)
        sheet_name = f"{path.stem}{path.suffix.replace('.', '_')}{'_' + tag if tag else ''}.png"
        sheet_path = output_dir / sheet_name if output_dir is not None else None
        suffix = path.suffix.lower()
        if not path.is_file():
            raise InputError(f"{path}: no such clip or picture")
        if suffix in VIDEO_SUFFIXES:
            return self.evaluate_clip(path, sheet_path, progress)
        if suffix in IMAGE_SUFFIXES:
            return self.evaluate_still(path, sheet_path)
        raise InputError(f"{path}: not a clip ({', '.join(VIDEO_SUFFIXES)}) or a picture ({', '.join(IMAGE_SUFFIXES)})")


def expand_media(paths: list[str | Path]) -> list[Path]:
    """Clips and stills to evaluate: files as given, folders replaced by the pictures inside them."""
    media: list[Path] = []
    for path in map(Path, paths):
        media.extend(list_images(path) if path.is_dir() else [path])
    return media


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the platform has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _output_folder(output_dir: str | Path | None) -> Path | None:
    if output_dir is None:
        return None
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(f"{output_dir}: is a file; the benchmark's output is a folder")
    output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir


_TARGETS: dict[tuple, TargetIdentity] = {}
_RECOGNISERS: list[FaceRecogniser] = []


def _shared_recogniser() -> FaceRecogniser:
    """One FaceRecogniser per process (loading dlib's two models takes a second)."""
    if not _RECOGNISERS:
        _RECOGNISERS.append(FaceRecogniser())
    return _RECOGNISERS[0]


def _cached_target(target: str | Path, recogniser: FaceRecogniser, detector,
                   settings: QualitySettings) -> TargetIdentity:
    """load_target_identity, remembered per process for the same target file/folder (and its
    modification time), first frame and face count: evaluating many models re-uses it."""
    path = Path(target)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None  # missing: load_target_identity says so
    key = (str(path.resolve()), stamp, settings.target_first_frame, settings.target_faces)
    if stamp is None or key not in _TARGETS:
        identity = load_target_identity(path, recogniser, detector, settings.target_first_frame, settings.target_faces)
        if stamp is None:
            return identity
        _TARGETS[key] = identity
    return _TARGETS[key]


def swap_variant(base: SwapSettings, text: str) -> tuple[str, SwapSettings]:
    """``'name:key=value,key=value'`` (or just ``'key=value,...'``, named after itself) -> (name, the
    base swap settings with those fields replaced). Keys are swap settings, or ``mask.<field>`` for
    the face mask's shape (faces/masks.py ``MaskSettings``: ``mask.erode``, ``mask.forehead``,
    ``mask.feather``). Values are parsed as the command line parses them. FaceswapError (one line)
    for an unknown field or a bad value."""
    from faceswap.errors import FaceswapError
    from faceswap.faces.masks import MaskSettings
    from faceswap.settings import settings_from

    name, _, assignments = text.rpartition(":") if ":" in text else (text, "", text)
    fields = {field.name for field in dataclasses.fields(SwapSettings) if field.metadata.get("cli") is not False}
    fields |= {f"mask.{field.name}" for field in dataclasses.fields(MaskSettings)}
    values: dict[str, str] = {}
    for assignment in filter(None, (part.strip() for part in assignments.split(","))):
        key, equals, value = assignment.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or key not in fields:
            raise FaceswapError(f"variant {text!r}: {assignment!r} is not KEY=VALUE of a swap setting "
                                f"({', '.join(sorted(fields))})")
        values[key] = value.strip()
    if not values:
        raise FaceswapError(f"variant {text!r}: no KEY=VALUE given")

    def parse(cls, given: dict[str, str]):
        try:
            return settings_from(cls, env_prefix="VARIANT_",
                                 environ={f"VARIANT_{key.upper()}": value for key, value in given.items()})
        except FaceswapError as error:
            raise FaceswapError(f"variant {text!r}: bad value ({str(error).split(': ', 1)[-1]})") from None

    top = {key: value for key, value in values.items() if "." not in key}
    mask = {key.split(".", 1)[1]: value for key, value in values.items() if "." in key}
    replaced = {key: getattr(parse(SwapSettings, top), key) for key in top} if top else {}
    if mask:
        parsed = parse(MaskSettings, mask)
        replaced["mask"] = dataclasses.replace(base.mask, **{key: getattr(parsed, key) for key in mask})
    return name, dataclasses.replace(base, **replaced)


def _swap_settings_dict(settings: SwapSettings) -> dict:
    """The swap settings as a flat JSON-able dict; the mask's fields as ``mask.<field>``."""
    flat = {}
    for key, value in dataclasses.asdict(settings).items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": inner_value for inner, inner_value in value.items()})
        else:
            flat[key] = value
    return flat


def evaluate_model(model, media: list[str | Path], target: str | Path, settings: QualitySettings | None = None,
                   swap_settings: SwapSettings | None = None, output_dir: str | Path | None = None,
                   holdout_b: str | Path | None = None, progress: bool = False,
                   variants: dict[str, SwapSettings] | None = None) -> dict:
    """Run the benchmark of a loaded model (a SwapModel, or anything with ``input_size``, ``layout``,
    ``manifest`` and ``swap``) on clips/stills against a target person.

    media: clip and picture paths (folders: the pictures inside); target: a clip (use
    ``settings.target_first_frame`` for its held-out tail), a picture or a folder of pictures;
    output_dir: where quality.json, quality.md (faceswap.evaluation.report) and one contact sheet
    per clip (<name>_<suffix>.png) are written;
    holdout_b: a face folder of held-out B faces for the B -> B reconstruction SSIM;
    variants: other swap settings to measure side by side in the same run, by name (their contact
    sheets get the name as a suffix); see ``swap_variant``.
    The target's descriptors are computed once per process for the same target and settings, so
    evaluating many models (e.g. training snapshots) in one process pays for them once.
    Returns the JSON-ready report: model, settings, target, load average at start and end, one
    entry per medium — its measures, or ``{"media", "path", "error"}`` when that medium could not be
    evaluated (the others still are) — and with variants ``{"variants": {name: {"swap_settings",
    "media"}}}``. Raises InputError (a FaceswapError, one line naming the file) for an unusable
    target or output folder.
    """
    from faceswap.faces.detection import DetectionSettings, FaceDetector  # imports MediaPipe

    settings = settings or QualitySettings()
    swap_settings = swap_settings or SwapSettings()
    started = time.perf_counter()
    load_start = load_average()
    output_dir = _output_folder(output_dir)
    recogniser = _shared_recogniser()
    runs = {"": swap_settings, **(variants or {})}
    measured: dict[str, dict] = {}
    max_faces = max(1, *(run.max_faces for run in runs.values()))
    with FaceDetector(DetectionSettings(max_faces=max_faces)) as detector:
        identity = _cached_target(target, recogniser, detector, settings)
        for name, run_settings in runs.items():
            benchmark = QualityBenchmark(model, identity, detector, recogniser, settings, run_settings)
            results = []
            for path in expand_media(list(media)):
                try:
                    results.append(benchmark.evaluate(path, output_dir, progress, sheet_tag=name))
                except InputError as error:
                    logger.info("not evaluated: %s", error)
                    results.append({"media": Path(path).name, "path": str(path), "error": str(error)})
            measured[name] = {"swap_settings": _swap_settings_dict(benchmark.swapper.settings), "media": results}
    manifest = getattr(model, "manifest", {}) or {}
    base = measured.pop("")
    report = {
        "model_dir": str(getattr(model, "model_dir", "")),
        "model": {"config": manifest.get("config"), "input_size": model.input_size,
                  "iterations": manifest.get("iterations"), "backend": getattr(model, "backend", None)},
        "settings": dataclasses.asdict(settings),
        "swap_settings": base["swap_settings"],
        "target": identity.to_dict(),
        "media": base["media"],
    }
    if measured:
        report["variants"] = measured
    if holdout_b is not None:
        from faceswap.evaluation.reconstruction import reconstruction_ssim

        report["reconstruction_ssim"] = round(reconstruction_ssim(model, Path(holdout_b)), 4)
    report["load_average"] = {"start": load_start, "end": load_average(), "cpus": os.cpu_count()}
    report["seconds"] = round(time.perf_counter() - started, 1)
    if output_dir is not None:
        import json

        from faceswap.evaluation.report import markdown_table

        (output_dir / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
        (output_dir / "quality.md").write_text(markdown_table(report))
    return report


def evaluate_model_dir(model_dir: str | Path, media: list[str | Path], target: str | Path,
                       settings: QualitySettings | None = None, swap_settings: SwapSettings | None = None,
                       output_dir: str | Path | None = None, holdout_b: str | Path | None = None,
                       progress: bool = False, variants: dict[str, SwapSettings] | None = None) -> dict:
    """``evaluate_model`` of the exported model directory ``model_dir`` (loaded with
    ``settings.backend``). Raises ModelDirectoryError for a model that does not load and InputError
    for an unusable target (both FaceswapError, one line naming the file)."""
    from faceswap.model.runtime import load_swap_model

    settings = settings or QualitySettings()
    model = load_swap_model(model_dir, backend=settings.backend)
    return evaluate_model(model, media, target, settings, swap_settings, output_dir, holdout_b, progress, variants)
