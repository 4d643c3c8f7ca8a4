"""Temporal smoothing of landmarks for video: One-Euro filters for the face's centre and its shape.

The One-Euro filter (Casiez et al., CHI 2012) smooths strongly when a face is still (no jitter)
and follows quickly when it moves (little lag). Speeds are measured in face sizes per second so
the same settings work for small and large faces.

A face's landmarks are split into their centre (the mean of the 68 points: where the head is) and
the points around it (its shape: expression, turns, scale), each with its own filter
(``centre``; as a tracker's state splits position from shape). The centre is measured from all 68
points, so its noise is the points' common shake alone, and its speed can be read quickly
(``centre_derivative_cutoff``): on a head that starts to move the filter lets go within a frame
or two, where a filter per coordinate, whose speed must first rise out of each point's own noise,
dragged the aligned face behind the head (d12: the landmarks lagged 7.5 % of the inter-ocular
distance on average, 2.9 % with the split; docs/merge-settings.md, "Landmark smoothing").
One ``LandmarkSmoother`` per video stream;
``reset()`` when the stream restarts. Several faces are followed by matching their centres; each
followed face also has a ``dict`` that later stages keep per face track (``track_states``: the
swapped face's temporal filter, faceswap.swapping.temporal).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from faceswap.settings import setting, settings_from

# Environment variables that override SmoothingSettings' defaults: FACESWAP_SMOOTH_BETA=10, ...
SMOOTHING_ENV_PREFIX = "FACESWAP_SMOOTH_"


@dataclass
class SmoothingSettings:
    min_cutoff: float = setting(1.5, "One-Euro minimum cut-off frequency in Hz (lower = smoother when still)")
    beta: float = setting(10.0, "One-Euro speed coefficient (higher = less lag when moving; docs/merge-settings.md, "
                                "\"Landmark smoothing\")")
    derivative_cutoff: float = setting(1.0, "cut-off frequency in Hz for the speed estimate")
    centre: bool = setting(True, "filter the face's centre (the mean of its landmarks) on its own, with "
                                 "centre_beta and centre_derivative_cutoff, and the points around it with the "
                                 "settings above (False: every coordinate on its own, as before session 20)")
    centre_beta: float = setting(20.0, "One-Euro speed coefficient of the face's centre")
    centre_derivative_cutoff: float = setting(6.0, "cut-off frequency in Hz for the speed estimate of the face's "
                                                   "centre (higher = lets go sooner when the head starts to move)")
    reset_after: float = setting(0.5, "seconds without a frame after which a track starts over")


# Frames closer in time than this (seconds) do not carry a track on: a repeated frame (a retried
# request), or a sender's clock that barely moves, would make a speed out of nothing (and a step of
# a subnormal float an infinite one).
MIN_STEP_S = 1e-3


def _alpha(cutoff: float, elapsed: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / elapsed)


class OneEuroFilter:
    """One-Euro filter over an array of any shape; ``scale`` normalises speeds (e.g. face size in px)."""

    def __init__(self, settings: SmoothingSettings | None = None):
        self.settings = settings or SmoothingSettings()
        self.reset()

    def reset(self) -> None:
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time: float | None = None

    def continues(self, shape: tuple[int, ...], timestamp: float) -> bool:
        """Whether a value of ``shape`` at ``timestamp`` seconds carries the filter on (False: it
        starts over there — nothing before, another shape, a pause over ``reset_after``, a step under
        ``MIN_STEP_S`` or time going back)."""
        return (self._value is not None and self._time is not None and self._value.shape == tuple(shape)
                and MIN_STEP_S <= timestamp - self._time <= self.settings.reset_after)

    def __call__(self, value: np.ndarray, timestamp: float, scale: float = 1.0) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if not self.continues(value.shape, timestamp):
            self._value, self._speed, self._time = value.copy(), np.zeros_like(value), timestamp
            return value.copy()
        elapsed = timestamp - self._time
        speed = (value - self._value) / elapsed / max(scale, 1e-6)
        speed_alpha = _alpha(self.settings.derivative_cutoff, elapsed)
        self._speed = speed_alpha * speed + (1 - speed_alpha) * self._speed
        cutoff = self.settings.min_cutoff + self.settings.beta * np.abs(self._speed)
        alpha = 1.0 / (1.0 + (1.0 / (2.0 * np.pi * cutoff)) / elapsed)
        self._value = alpha * value + (1 - alpha) * self._value
        self._time = timestamp
        return self._value.copy()


class FaceFilter:
    """The smoothing of one followed face: (N, 2) px points -> smoothed (N, 2) float64.

    With ``settings.centre`` the points' mean goes through one One-Euro filter (``centre_beta``,
    ``centre_derivative_cutoff``) and the points minus their mean through another (``beta``,
    ``derivative_cutoff``); the result is their sum. Otherwise one filter takes every coordinate."""

    def __init__(self, settings: SmoothingSettings):
        self.settings = settings
        self._shape = OneEuroFilter(settings)
        self._centre = OneEuroFilter(dataclasses.replace(settings, beta=settings.centre_beta,
                                                         derivative_cutoff=settings.centre_derivative_cutoff))

    def continues(self, shape: tuple[int, ...], timestamp: float) -> bool:
        """Whether points of ``shape`` at ``timestamp`` carry the track on (OneEuroFilter.continues)."""
        return self._shape.continues(shape, timestamp)

    def __call__(self, points: np.ndarray, timestamp: float, scale: float = 1.0) -> np.ndarray:
        """points: (N, 2) px at ``timestamp`` seconds; scale: the face's size in px (speeds in face
        sizes per second). Returns the smoothed (N, 2) float64."""
        points = np.asarray(points, dtype=np.float64)
        if not self.settings.centre:
            return self._shape(points, timestamp, scale)
        centre = points.mean(axis=0, keepdims=True)
        return self._shape(points - centre, timestamp, scale) + self._centre(centre, timestamp, scale)


def smoothing_settings(environ=None) -> SmoothingSettings:
    """SmoothingSettings from their defaults and ``FACESWAP_SMOOTH_<NAME>`` environment variables
    (``environ``, default os.environ): what every ``LandmarkSmoother()`` without settings uses, in
    convert, the prediction routine and the quality benchmark alike."""
    return settings_from(SmoothingSettings, env_prefix=SMOOTHING_ENV_PREFIX, environ=environ)


class LandmarkSmoother:
    """Smooths (68, 2) landmarks of the faces of one stream over time."""

    def __init__(self, settings: SmoothingSettings | None = None):
        self.settings = settings or smoothing_settings()
        self._tracks: list[tuple[np.ndarray, FaceFilter, dict]] = []
        self.track_states: list[dict] = []

    def reset(self) -> None:
        self._tracks = []
        self.track_states = []

    def smooth(self, landmarks: np.ndarray, timestamp_s: float) -> np.ndarray:
        """One face: (68, 2) px landmarks at ``timestamp_s`` seconds -> smoothed (68, 2) float32."""
        return self.smooth_many([landmarks], timestamp_s)[0]

    def smooth_many(self, faces: list[np.ndarray], timestamp_s: float) -> list[np.ndarray]:
        """Several faces of one frame: each matched to the nearest previous track by centre.
        Afterwards ``track_states[i]`` is face i's per-track dict (the same object while the face is
        followed; a new empty one for a new face or after a pause longer than ``reset_after``)."""
        remaining = list(self._tracks)
        tracks, results = [], []
        for landmarks in faces:
            landmarks = np.asarray(landmarks, dtype=np.float64)
            centre = landmarks.mean(axis=0)
            size = float(np.ptp(landmarks[:, 0]) + np.ptp(landmarks[:, 1])) / 2 or 1.0
            best = None
            if remaining:
                distances = [np.linalg.norm(previous[0] - centre) for previous in remaining]
                index = int(np.argmin(distances))
                if distances[index] < size * 0.5:
                    best = remaining.pop(index)
            smoother, state = (best[1], best[2]) if best else (FaceFilter(self.settings), {})
            if not smoother.continues(landmarks.shape, timestamp_s):
                state = {}
            results.append(smoother(landmarks, timestamp_s, scale=size).astype(np.float32))
            tracks.append((centre, smoother, state))
        self._tracks = tracks
        self.track_states = [state for _, _, state in tracks]
        return results
