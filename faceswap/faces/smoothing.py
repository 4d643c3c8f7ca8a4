"""Temporal smoothing of landmarks for video: a One-Euro filter per coordinate.

The One-Euro filter (Casiez et al., CHI 2012) smooths strongly when a face is still (no jitter)
and follows quickly when it moves (little lag). Speeds are measured in face sizes per second so
the same settings work for small and large faces. One ``LandmarkSmoother`` per video stream;
``reset()`` when the stream restarts. Several faces are followed by matching their centres; each
followed face also has a ``dict`` that later stages keep per face track (``track_states``: the
swapped face's temporal filter, faceswap.swapping.temporal).
"""

from __future__ import annotations

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


def smoothing_settings(environ=None) -> SmoothingSettings:
    """SmoothingSettings from their defaults and ``FACESWAP_SMOOTH_<NAME>`` environment variables
    (``environ``, default os.environ): what every ``LandmarkSmoother()`` without settings uses, in
    convert, the prediction routine and the quality benchmark alike."""
    return settings_from(SmoothingSettings, env_prefix=SMOOTHING_ENV_PREFIX, environ=environ)


class LandmarkSmoother:
    """Smooths (68, 2) landmarks of the faces of one stream over time."""

    def __init__(self, settings: SmoothingSettings | None = None):
        self.settings = settings or smoothing_settings()
        self._tracks: list[tuple[np.ndarray, OneEuroFilter, dict]] = []
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
            smoother, state = (best[1], best[2]) if best else (OneEuroFilter(self.settings), {})
            if not smoother.continues(landmarks.shape, timestamp_s):
                state = {}
            results.append(smoother(landmarks, timestamp_s, scale=size).astype(np.float32))
            tracks.append((centre, smoother, state))
        self._tracks = tracks
        self.track_states = [state for _, _, state in tracks]
        return results
