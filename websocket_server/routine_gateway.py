"""The relay's side of the prediction routine: one frame in, one result out, never an exception.

``RoutineGateway.process(frame, stream_id)`` turns a browser Frame into a predict instance
(docs/protocols.md), calls the routine through ``PredictionClient`` and turns the prediction into
a ``FrameOutcome``:

- ``ok``: the merged JPEG, ``faces`` and the routine's ``timings_ms``; when it found no face, the
  reason is the routine's ``no_face`` (why, in words, e.g. "the frame is very dark (mean
  brightness 12 of 255)"), or "no face in the frame" when the routine gave none;
- ``error``: the routine refused this frame (e.g. the payload is not an image); empty payload;
- ``degraded``: the routine is unreachable, failing, or gave an unusable answer; the payload is
  the unchanged input frame and ``reason`` says why. A shared RoutineBreaker skips the routine
  for a second after a failure, then the next frame tries again, so streams recover by themselves.

``health()`` answers /healthz: whether the routine answers, probing it with a tiny grey PNG at
most every ``health_probe_interval_s`` (a frame answered by a stream counts as a probe).

Deadlines: ``process(..., deadline_s=...)`` gives the routine call (retries included) at most that
long; a hung routine then costs each frame one deadline, and the frame comes back ``degraded``
with the reason while the page still waits for it (the page's frame timeout is 3 s; the relay's
default deadline 2.5 s). A missed deadline counts as a failure for the breaker.
"""

from __future__ import annotations

import logging
import struct
import time
import zlib
from dataclasses import dataclass, field

import gevent
from gevent.lock import Semaphore

from websocket_server.frame_protocol import Frame
from websocket_server.prediction_client import (PredictionClient, PredictionClientSettings, PredictionRejected,
                                                PredictionUnavailable, make_instance, prediction_image)
from websocket_server.routine_breaker import RoutineBreaker

logger = logging.getLogger(__name__)

NO_FACE_REASON = "no face in the frame"
MAX_NO_FACE_REASON_CHARS = 300  # the routine's sentences are ~60 characters; a longer one is cut


def no_face_reason(prediction: dict) -> str:
    """Why the routine found no face: its ``no_face`` sentence (docs/protocols.md), stripped and cut
    to MAX_NO_FACE_REASON_CHARS, or NO_FACE_REASON when it sent none (or not a non-empty string)."""
    reason = prediction.get("no_face")
    if not isinstance(reason, str) or not reason.strip():
        return NO_FACE_REASON
    return reason.strip()[:MAX_NO_FACE_REASON_CHARS]


@dataclass
class FrameOutcome:
    """What the relay sends back for one frame. ``payload``: JPEG bytes (merged for ``ok``,
    the unchanged input for ``degraded``, empty for ``error``)."""

    status: str
    payload: bytes = b""
    reason: str | None = None
    faces: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)


def grey_png(size: int = 8) -> bytes:
    """A tiny uniform grey RGB PNG (no face in it): the /healthz probe image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * (3 * size) for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class RoutineGateway:
    """Calls the prediction routine for all connections of one worker process (greenlet-safe)."""

    def __init__(self, client_settings: PredictionClientSettings, retry_after_s: float = 1.0,
                 health_probe_interval_s: float = 5.0, clock=time.monotonic):
        self.client_settings = client_settings
        self.breaker = RoutineBreaker(retry_after_s, clock=clock)
        self.health_probe_interval_s = health_probe_interval_s
        self._clock = clock
        self._client: PredictionClient | None = None
        self._client_lock = Semaphore()
        self._probe_lock = Semaphore()

    def _get_client(self) -> PredictionClient:
        """The shared client, built on first use (building it may fail, e.g. no cloud credentials)."""
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = PredictionClient(self.client_settings)
                except PredictionUnavailable:
                    raise
                except Exception as error:  # bad settings, credentials, discovery: degrade and retry later
                    raise PredictionUnavailable(f"cannot set up the prediction client: "
                                                f"{type(error).__name__}: {error}") from None
            return self._client

    def _predict_one(self, instance: dict) -> dict:
        """One prediction dict, or PredictionUnavailable/PredictionRejected; feeds the breaker."""
        try:
            prediction = self._get_client().predict([instance])[0]
        except PredictionRejected:
            raise  # the routine answered but refused this request: not a reason to skip it for others
        except PredictionUnavailable as error:
            self.breaker.record_failure(str(error))
            raise
        self.breaker.record_success()
        return prediction

    def _predict_within(self, instance: dict, deadline_s: float | None) -> dict:
        """``_predict_one`` that gives up after ``deadline_s`` seconds (PredictionUnavailable)."""
        if deadline_s is None:
            return self._predict_one(instance)
        self._get_client()  # built once, outside the deadline: setting up the client is not the routine hanging
        if deadline_s <= 0:
            raise PredictionUnavailable("no time left for the prediction routine within the frame deadline")
        timeout = gevent.Timeout(deadline_s)
        timeout.start()
        try:
            return self._predict_one(instance)
        except gevent.Timeout as expired:
            if expired is not timeout:
                raise
            reason = f"the prediction routine did not answer within {deadline_s:.1f} s"
            self.breaker.record_failure(reason)
            raise PredictionUnavailable(reason) from None
        finally:
            timeout.close()

    def process(self, frame: Frame, stream_id: str, deadline_s: float | None = None) -> FrameOutcome:
        """Send one frame through the routine within ``deadline_s`` seconds (None: the client's own
        timeout and retries); always returns an outcome, never raises."""
        if not self.breaker.allows_call():
            return FrameOutcome("degraded", frame.image, reason=self.breaker.reason)
        started = self._clock()
        try:
            prediction = self._predict_within(
                make_instance(frame.image, frame.direction, stream_id, frame.options, frame.frame_time_ms), deadline_s)
        except PredictionUnavailable as error:  # includes PredictionRejected
            return FrameOutcome("degraded", frame.image, reason=str(error),
                                timings_ms={"predict_call": (self._clock() - started) * 1000})
        predict_call_ms = (self._clock() - started) * 1000
        return self._outcome(prediction, frame, predict_call_ms)

    def _outcome(self, prediction: dict, frame: Frame, predict_call_ms: float) -> FrameOutcome:
        if not isinstance(prediction, dict):
            return FrameOutcome("degraded", frame.image, reason="the prediction routine answered "
                                f"{type(prediction).__name__} instead of a prediction object")
        raw_timings = prediction.get("timings_ms")
        timings = dict(raw_timings) if isinstance(raw_timings, dict) else {}
        timings["predict_call"] = predict_call_ms
        error = prediction.get("error")
        if error:
            return FrameOutcome("error", b"", reason=f"the prediction routine refused the frame: {error}",
                                timings_ms=timings)
        image = prediction_image(prediction)
        if not image:
            return FrameOutcome("degraded", frame.image, timings_ms=timings,
                                reason="the prediction routine answered without a merged image")
        faces = prediction.get("faces", 0)
        faces = faces if isinstance(faces, int) and not isinstance(faces, bool) and faces >= 0 else 0
        return FrameOutcome("ok", image, reason=None if faces else no_face_reason(prediction), faces=faces,
                            timings_ms=timings)

    def health(self, deadline_s: float | None = None) -> dict:
        """{"available": bool, "reason": str|None, "checked": "stream"|"probe"} for /healthz; a probe
        gives up after ``deadline_s`` seconds."""
        with self._probe_lock:
            now = self._clock()
            recent = now - self.health_probe_interval_s
            last_success = self.breaker.last_success_at
            last_failure = self.breaker.last_failure_at
            if self.breaker.is_open and last_failure is not None and last_failure >= recent:
                return {"available": False, "reason": self.breaker.reason, "checked": "stream"}
            if not self.breaker.is_open and last_success is not None and last_success >= recent:
                return {"available": True, "reason": None, "checked": "stream"}
            try:
                self._predict_within(make_instance(grey_png(), "a2b", "healthz"), deadline_s)
            except PredictionUnavailable as error:  # includes PredictionRejected (answers, but refuses)
                return {"available": False, "reason": str(error), "checked": "probe"}
            return {"available": True, "reason": None, "checked": "probe"}
