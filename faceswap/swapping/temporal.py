"""Temporal filtering of the swapped face: less frame-to-frame shimmer where the user's face is still.

An autoencoder draws each frame afresh, so texture it invents (skin, eyelashes, the target's
eyeliner) shimmers from frame to frame even where the user's face does not move; the flicker
measure of the quality benchmark (faceswap.evaluation.benchmark) reads this as output changing
more than the input. This module is a *motion-adaptive recursive filter*, the classic temporal
noise reducer of video (Dubois & Sabri, "Noise reduction in image sequences using
motion-compensated temporal filtering", IEEE Trans. Communications 32(7), 1984):

    output_t = swapped_t + w * (output_{t-1} - swapped_t)
    w        = strength * max(0, 1 - change / threshold) ** 2      (per pixel)

- *Motion compensation* comes from the alignment: each frame's face is cut out aligned to its own
  landmarks (faceswap.faces.alignment), so the same feature of the face sits at the same place of
  both crops however the head moved in the frame, and the previous output is used where it lies.
- *Motion adaptivity* comes from the user's face, not the swap: ``change`` is the blurred grey
  difference between this frame's aligned input crop and the previous one. Where the user's face
  changed (the mouth opens, the eyes blink, the head turns, the alignment slips) the weight falls
  to 0 and the new swap is taken as it is — no ghost of the previous expression. Where it did not,
  up to ``strength`` of the previous output is kept.

State is per face track: the caller's ``LandmarkSmoother`` keeps one ``dict`` per tracked face
(``LandmarkSmoother.track_states``), so everything that smooths a stream's landmarks (conversion
of a video, the live routine's streams, the quality benchmark) filters its faces too, and stills
(no smoother, or video converted with ``--no-smooth``) never are. A new track, a different crop
size, or another model, direction or colour mode than the previous frame's starts afresh.

Since each output feeds the next, the memory is exponential: where a face stays still, frame
t - k still weighs ``strength ** k`` (0.5: 1/2, 1/4, 1/8, ...; half-life one frame).
"""

from __future__ import annotations

import cv2
import numpy as np

# Sigma in px (at the model's crop size 64) of the blur on the input's change: sensor noise is not motion.
CHANGE_BLUR_SIGMA_AT_64 = 1.0


def filter_face(state: dict, aligned: np.ndarray, swapped: np.ndarray, strength: float,
                threshold: float, key: object = None) -> np.ndarray:
    """Temporally filter one face's swap and remember this frame in ``state``.

    state: this face track's dict (empty for a new track; filled here);
    key: what the swap was made with (the frame swapper passes model, direction and colour mode):
    a state kept under another key is not used (a stream that switches direction mid-way must not
    show the other identity for a few frames) and is replaced;
    aligned: the frame's aligned face, float32 (S, S, 3) BGR in [0, 1] (the model's input);
    swapped: the swapped face for it, float32 (S, S, 3) BGR in [0, 1];
    strength: the most of the previous output kept, in [0, 1) (0 = off: ``swapped`` is returned);
    threshold: the input change (grey level in [0, 1], blurred) at and above which nothing is kept.
    Returns float32 (S, S, 3) BGR in [0, 1] (``swapped`` itself when nothing was kept).
    Raises ValueError for a strength outside [0, 1) or a threshold <= 0.
    """
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"temporal strength must be in [0, 1), not {strength}")
    if not threshold > 0.0:
        raise ValueError(f"temporal threshold must be > 0, not {threshold}")
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)   # float32 (S, S) luma, ITU-R BT.601 weights
    result = swapped
    if (strength > 0.0 and state.get("output") is not None and state["output"].shape == swapped.shape
            and state.get("key") == key):
        sigma = CHANGE_BLUR_SIGMA_AT_64 * swapped.shape[0] / 64.0
        change = cv2.GaussianBlur(np.abs(grey - _unit(state["input"])), (0, 0), sigma)
        keep = np.clip(1.0 - change / np.float32(threshold), 0.0, 1.0)
        weight = (np.float32(strength) * keep * keep)[..., None]
        result = swapped + weight * (_unit(state["output"]) - swapped)
    # kept as uint8 (S*S*4 bytes a face: ~37 KB at 96 px), since a server keeps one per face of every stream
    state["key"] = key
    state["input"] = _bytes(grey)
    state["output"] = _bytes(result)
    return result


def _bytes(image: np.ndarray) -> np.ndarray:
    """uint8 copy of a float32 image in [0, 1]."""
    return np.rint(np.clip(image, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)


def _unit(image: np.ndarray) -> np.ndarray:
    """float32 [0, 1] of a uint8 image."""
    return image.astype(np.float32) * np.float32(1.0 / 255.0)
