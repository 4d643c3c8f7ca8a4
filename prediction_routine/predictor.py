"""ModelPrediction: the Google custom prediction routine of the face-swap service.

The class has the custom-prediction-routine interface (legacy AI Platform class path
``prediction_routine.predictor.ModelPrediction``; the local/Vertex server in
prediction_routine/server.py wraps the same object):

- ``ModelPrediction.from_path(model_dir)`` loads an exported model directory ONCE — TFLite int8
  via ai-edge-litert by default, the SavedModel with FACESWAP_ROUTINE_BACKEND=savedmodel — plus
  the MediaPipe face detector;
- ``predict(instances)`` runs the whole per-frame pipeline on each instance (docs/protocols.md):
  decode -> FrameSwapper (detect + landmarks, per-stream temporal smoothing, align, swap, mask,
  colour transfer, blend, visible "AI-generated" mark) -> JPEG encode (+ XMP digital source type,
  faceswap.provenance.frame_metadata).

Per-stream state (a LandmarkSmoother and a FaceTracker on the worker's shared graphs: ~20 KB, and
the temporal filter's last aligned face and swap per followed face: ~37 KB a face at 96 px)
lives in a bounded LRU table with a time-to-live (prediction_routine/stream_states.py): a stream
that lands on another replica simply starts a new state. With several worker processes
(one per core) a stream's frames reach whichever worker is free; each keeps its own small state
for the stream and follows the face from the last frame it saw (the tracker looks again when it
lost the face). Otherwise ``predict`` keeps nothing between requests.

A bad instance (not an object, no image, not base64, not an image, over the 1.5 MB limit,
oversized pixels, missing/unknown direction, bad option) gets its own ``error`` and — when its
frame could be decoded — the frame back unchanged; the rest of the batch is unaffected.
A frame with no face comes back unchanged (the very bytes that came in) with ``faces: 0`` and
``no_face``: why, in words (faceswap.faces.detection.no_face_reason).

Images: instances carry JPEG/PNG bytes (base64); inside, frames are uint8 (H, W, 3) BGR; merged
frames go back as JPEG. Safe to call from several threads (one lock per stream).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from faceswap.errors import FaceswapError, InputError
from faceswap.images import encode_jpeg
from faceswap.model.runtime import BACKENDS
from faceswap.provenance.frame_metadata import add_frame_metadata
from faceswap.settings import setting, settings_from
from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings
from prediction_routine.frame_budget import FrameLimits, decode_within, frame_limits, live_pixel_budget, read_header
from prediction_routine.instances import (ONLINE_PREDICTION_LIMIT_BYTES, decode_b64_image, parse_fields,
                                          parse_frame_time, prediction)
from prediction_routine.stream_states import SlotLimit, StreamStates

logger = logging.getLogger(__name__)

ROUTINE_ENV_PREFIX = "FACESWAP_ROUTINE_"
SWAP_ENV_PREFIX = "FACESWAP_SWAP_"


@dataclass
class RoutineSettings:
    """Prediction-routine settings (environment prefix FACESWAP_ROUTINE_, e.g. FACESWAP_ROUTINE_BACKEND)."""

    backend: str = setting("tflite", "model runtime: tflite (int8, ai-edge-litert) or savedmodel (TensorFlow)",
                           choices=BACKENDS)
    max_image_bytes: int = setting(ONLINE_PREDICTION_LIMIT_BYTES, "largest accepted frame, bytes (1.5 MB online limit)")
    max_image_pixels: int = setting(4096 * 4096, "largest accepted frame, width x height")
    max_instances: int = setting(64, "most instances in one predict call")
    max_streams: int = setting(512, "stream states (landmark smoothers, a few KB, and the temporal filter's last "
                                    "face, ~37 KB a face at 96 px) kept per worker, least recently used go first")
    max_trackers: int = setting(512, "streams followed by their own face tracker (a few KB: trackers share the "
                                     "worker's detection graph and landmark model); further streams use the "
                                     "shared detector until a tracker is free")
    stream_ttl_s: float = setting(30.0, "seconds without a frame after which a stream's state is dropped")
    stream_tracking: bool = setting(True, "follow each stream's face (landmarks from the previous frame's region, "
                                          "a detection every few frames: ~3x less CPU than detecting every frame)")
    report_cpu: bool = setting(False, "add the CPU ms of every stage to each prediction's timings_ms (keys cpu_*: "
                                      "decode, detect, align, model, colour, blend, mark, encode, base64; the "
                                      "server adds json and http) for the stream benchmark's breakdown")


def routine_settings(environ=None, **overrides: Any) -> RoutineSettings:
    """RoutineSettings from defaults <- FACESWAP_ROUTINE_* environment <- ``overrides``."""
    return settings_from(RoutineSettings, env_prefix=ROUTINE_ENV_PREFIX, environ=environ, **overrides)


class _StreamState:
    """What one video stream keeps between frames: a landmark smoother (with the temporal filter's
    last aligned face and swap per followed face, faceswap.swapping.temporal: ~37 KB a face at
    96 px) and, while one of the worker's ``max_trackers`` tracker slots is free, its own face
    tracker (a few KB: the tracker uses the worker's shared detection graph and landmark model)."""

    def __init__(self, tracker_slots: SlotLimit | None, max_faces: int, shared_detector=None):
        from faceswap.faces.smoothing import LandmarkSmoother

        self.lock = threading.Lock()
        self.closed = False
        self.smoother = LandmarkSmoother()
        self.tracker = None
        self._tracker_slots = tracker_slots
        self._max_faces = max_faces
        self._shared_detector = shared_detector

    def detector(self):
        """This stream's FaceTracker (built when a slot is free), else None: the shared detector.
        Call with ``self.lock`` held."""
        if self.closed:
            return None
        if self.tracker is None and self._tracker_slots is not None and self._tracker_slots.try_take():
            from faceswap.faces.detection import FaceTracker

            try:
                self.tracker = FaceTracker(max_faces=self._max_faces, detector=self._shared_detector)
            except BaseException:
                self._tracker_slots.give_back()
                raise
        return self.tracker

    def close(self) -> None:
        """Forget the tracker and give back its slot (waits for a frame in progress)."""
        with self.lock:
            self.closed = True
            if self.tracker is not None:
                self.tracker.close()
                self.tracker = None
                self._tracker_slots.give_back()


def _with_no_face_reason(answer: dict, frame) -> dict:
    """``answer`` (a PREDICTION) with ``no_face``, why no face was found in ``frame`` (uint8 BGR), when
    ``faces`` is 0 (docs/protocols.md); ~0.1 ms on a 640x480 frame."""
    if answer["faces"] == 0:
        from faceswap.faces.detection import no_face_reason

        answer["no_face"] = no_face_reason(frame)
    return answer


class ModelPrediction:
    """Custom prediction routine: ``from_path(model_dir)`` once, then ``predict(instances)`` per request."""

    def __init__(self, swapper: FrameSwapper, settings: RoutineSettings | None = None,
                 limits: FrameLimits | None = None):
        self.swapper = swapper
        self.settings = settings or RoutineSettings()
        self.limits = limits or frame_limits()
        self._tracker_slots = SlotLimit(self.settings.max_trackers) if self.settings.stream_tracking else None
        # Every tracked stream follows up to max_faces faces, as the shared detector does.
        max_faces = max(1, self.swapper.settings.max_faces)
        from faceswap.faces.detection import FaceDetector

        # Trackers follow faces with the worker's own detection graph (when it is a FaceDetector).
        shared = self.swapper.detector if isinstance(self.swapper.detector, FaceDetector) else None
        self._streams: StreamStates[_StreamState] = StreamStates(
            lambda: _StreamState(self._tracker_slots, max_faces, shared), capacity=self.settings.max_streams,
            ttl_s=self.settings.stream_ttl_s, on_evict=_StreamState.close)
        self._streams_lock = threading.Lock()

    @classmethod
    def from_path(cls, model_dir: str, settings: RoutineSettings | None = None,
                  swap_settings: SwapSettings | None = None) -> "ModelPrediction":
        """Load the exported model in ``model_dir`` and the face detector.

        Settings default to the environment (FACESWAP_ROUTINE_*, FACESWAP_SWAP_*). Raises
        faceswap.errors.ModelDirectoryError when the directory is missing files or holds corrupt ones.
        """
        settings = settings or routine_settings()
        return cls.from_model(cls.load_model(model_dir, settings), settings, swap_settings)

    @staticmethod
    def load_model(model_dir: str, settings: RoutineSettings | None = None):
        """Step 1 of from_path: the SwapModel of ``model_dir`` (quick for TFLite: no TensorFlow, no
        MediaPipe). Raises ModelDirectoryError for a missing or corrupt file."""
        from faceswap.model.runtime import load_swap_model

        settings = settings or routine_settings()
        if settings.backend not in BACKENDS:
            raise FaceswapError(f"FACESWAP_ROUTINE_BACKEND is {settings.backend!r}; expected one of {', '.join(BACKENDS)}")
        started = time.perf_counter()
        model = load_swap_model(model_dir, backend=settings.backend)
        logger.info("loaded the %s model from %s in %.1f s", settings.backend, model_dir, time.perf_counter() - started)
        return model

    @classmethod
    def from_model(cls, model, settings: RoutineSettings | None = None,
                   swap_settings: SwapSettings | None = None) -> "ModelPrediction":
        """Step 2 of from_path: the face detector (MediaPipe: seconds to import) and the pipeline."""
        from faceswap.faces.detection import FaceDetector

        started = time.perf_counter()
        swap_settings = swap_settings or settings_from(SwapSettings, env_prefix=SWAP_ENV_PREFIX, warn_unknown=True)
        swapper = FrameSwapper(model, FaceDetector(), swap_settings)
        logger.info("face detector ready in %.1f s", time.perf_counter() - started)
        return cls(swapper, settings or routine_settings())

    def predict(self, instances: list, **kwargs: Any) -> list[dict]:
        """One PREDICTION dict per instance, in order (docs/protocols.md).

        Raises InputError only when ``instances`` itself is unusable (not a non-empty list, or
        more than ``max_instances``); problems of single instances go into their ``error``.
        """
        if not isinstance(instances, list) or not instances:
            raise InputError('"instances" must be a non-empty list')
        if len(instances) > self.settings.max_instances:
            raise InputError(f"{len(instances)} instances in one request; the limit is {self.settings.max_instances}")
        return [self._predict_one(instance) for instance in instances]

    def _stream_state(self, stream_id: str) -> _StreamState:
        with self._streams_lock:
            return self._streams.get(stream_id)

    def _predict_one(self, instance: Any) -> dict:
        if not self.settings.report_cpu:
            return self._predict_timed(instance, None)
        cpu: dict[str, float] = {}
        started = time.process_time()
        result = self._predict_timed(instance, cpu)
        # What the stages did not cover (parsing fields, smoothing, bookkeeping) counts as decode.
        covered = sum(cpu.values())
        cpu["decode"] = cpu.get("decode", 0.0) + max(0.0, (time.process_time() - started) * 1000.0 - covered)
        result["timings_ms"].update({f"cpu_{stage}": round(value, 3) for stage, value in cpu.items()})
        return result

    def _predict_timed(self, instance: Any, cpu: dict[str, float] | None) -> dict:
        """One prediction; with ``cpu`` a dict, the CPU ms of decode, the swap's stages, encode and
        base64 are added to it (the caller turns them into ``cpu_*`` timings)."""
        started = time.perf_counter()
        cpu_started = time.process_time()
        timings: dict[str, float] = {}
        image_bytes = None
        try:
            image_bytes = decode_b64_image(instance, self.settings.max_image_bytes)
            if cpu is not None:
                cpu["base64"] = (time.process_time() - cpu_started) * 1000.0
            # Format and size from the header first: nothing is decoded before both are allowed.
            header = read_header(image_bytes, self.settings.max_image_pixels)
        except InputError as error:
            return self._failed(None, str(error), started, timings)
        try:
            direction, stream_id, options = parse_fields(instance)
            frame_time_s = parse_frame_time(instance)
        except InputError as error:
            return self._failed(image_bytes, str(error), started, timings)
        # Live frames (a stream_id: the relay) are brought down to a live size before the swap.
        budget = None if stream_id is None else live_pixel_budget(self.limits, options.blend or
                                                                   self.swapper.settings.blend)
        try:
            frame = decode_within(image_bytes, header, budget)
        except InputError as error:
            return self._failed(None, str(error), started, timings)
        decoded = time.perf_counter()
        timings["decode"] = (decoded - started) * 1000.0

        try:
            overrides = {"color": options.color, "blend": options.blend, "mark": options.mark,
                         "measure_cpu": cpu is not None}
            if stream_id is None:
                result = self.swapper.swap_frame(frame, direction, **overrides)
            else:
                state = self._stream_state(stream_id)
                with state.lock:  # evicted meanwhile: this one frame goes without the stream's state
                    result = self.swapper.swap_frame(
                        frame, direction, smoother=None if state.closed else state.smoother,
                        timestamp_s=time.monotonic() if frame_time_s is None else frame_time_s,
                        detector=state.detector(), **overrides)
        except InputError as error:
            return self._failed(image_bytes, str(error), started, timings)
        except Exception as error:  # a bug must cost one instance, never the batch or the server
            logger.exception("swap failed")
            return self._failed(image_bytes, f"the swap failed: {type(error).__name__}: {error}", started, timings)

        timings.update({stage: value for stage, value in result.timings_ms.items() if stage != "total"})
        if cpu is not None:
            cpu.update(result.cpu_ms)
        encode_started = time.perf_counter()
        encode_cpu = time.process_time()
        if result.frame is frame:
            merged = image_bytes  # no face: exactly the bytes that came in (even if scaled for the swap)
        else:
            merged = add_frame_metadata(encode_jpeg(result.frame, self.swapper.settings.jpeg_quality))
        finished = time.perf_counter()
        timings["encode"] = (finished - encode_started) * 1000.0
        timings["total"] = (finished - started) * 1000.0
        if cpu is None:
            return _with_no_face_reason(prediction(merged, result.faces, timings, None), frame)
        base64_cpu = time.process_time()
        cpu["encode"] = (base64_cpu - encode_cpu) * 1000.0
        answer = _with_no_face_reason(prediction(merged, result.faces, timings, None), frame)
        cpu["base64"] = cpu.get("base64", 0.0) + (time.process_time() - base64_cpu) * 1000.0
        return answer

    @staticmethod
    def _failed(image_bytes: bytes | None, message: str, started: float, timings: dict[str, float]) -> dict:
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return prediction(image_bytes, 0, timings, message)
