"""Motion blur on the swapped face: the camera's smear where the user's head moves fast.

A camera integrates light over its exposure, so a head that moves during it comes out smeared
along its motion. The model draws every face sharp (its training faces are mostly still), and a
sharp face pasted into a frame whose head, hair and shoulders are smeared looks stuck on; on
video it also jumps from frame to frame where the user's own face glides (the quality benchmark's
flicker: on d12's fast turns the output changed 1.28x as much as the input from frame to frame,
the pass-through ceiling 1.00x). DeepFaceLab's merger offers the same correction
(``motion_blur_power``, merger/MergeMasked.py: a linear motion blur of the predicted face along
the face's motion between the neighbouring frames, its length the motion times the power).

Here the motion is the face track's own: the centre of the aligned crop, mapped into the frame,
at this frame and the previous one of the same track (the caller's ``LandmarkSmoother`` keeps a
``dict`` per face track, as for the temporal filter; stills have none and are never blurred). Its
velocity (frame px per second, from the frames' timestamps, so dropped or variable-rate frames
count right) times ``exposure`` seconds is the length of the smear in the frame; the alignment
matrix turns it into crop pixels and crop direction. A straight line of that length, centred and
anti-aliased (bilinear splats), is the kernel (the point-spread function of uniform linear
motion; e.g. Gonzalez & Woods, "Digital Image Processing", 5.6.3). Smears shorter than a crop
pixel are not drawn (the smoothed landmarks' jitter must not soften a still face), and the length
is capped at ``MAX_BLUR_SHARE`` of the crop (a track that jumps is not a motion).

Images are model-crop sized: ``float32 (S, S, 3)`` **BGR** in [0, 1].
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from faceswap.faces.alignment import invert_matrix
from faceswap.faces.smoothing import MIN_STEP_S

# Default exposure, seconds: a well-lit webcam's (a dim room's runs to 1/60 - 1/30 s at 30 frames a
# second). Chosen on the quality benchmark (docs/merge-settings.md, "Motion blur"): on d12's fast
# turns 1/120 s keeps every goal d12 met; 1/60 s and 1/30 s take its flicker further down (1.24,
# 1.20) but its detail share under 0.9 and, at 1/30 s, its judged-target share under 90 %.
DEFAULT_EXPOSURE_S = 1.0 / 120.0
# Longest smear drawn, as a share of the crop size.
MAX_BLUR_SHARE = 0.15
# Smears shorter than this many crop px are not drawn.
MIN_BLUR_PX = 1.0
# Longest gap between two frames of a track, seconds, over which a velocity is still measured.
MAX_GAP_S = 0.5


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """Line kernel of uniform linear motion: float32 (k, k), k odd, sums to 1.

    length: the smear in px (>= 0; under 1 the kernel is the identity, 1x1);
    angle: its direction in radians in image coordinates (x right, y down).
    The line runs from -length/2 to +length/2 through the kernel's centre, sampled 4 times a pixel
    and splatted bilinearly, so a length between whole pixels gives a kernel between theirs.
    """
    if not length >= 1.0:   # also NaN
        return np.ones((1, 1), np.float32)
    size = 2 * int(math.ceil(length / 2.0)) + 1
    centre = size // 2
    along = np.linspace(-0.5, 0.5, max(int(math.ceil(length * 4)), 2)) * length
    xs = centre + along * math.cos(angle)
    ys = centre + along * math.sin(angle)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    kernel = np.zeros((size + 1, size + 1), np.float64)
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), weight)
    kernel = kernel[:size, :size]
    return (kernel / kernel.sum()).astype(np.float32)


def crop_centre_in_frame(matrix: np.ndarray, size: int) -> np.ndarray:
    """Frame px (x, y) of the centre of a ``size`` px crop cut out with ``matrix`` (2x3, frame ->
    crop); float64 (2,)."""
    return invert_matrix(matrix) @ np.array([size / 2.0, size / 2.0, 1.0])


def blur_for_motion(state: dict, face: np.ndarray, matrix: np.ndarray, timestamp_s: float,
                    exposure: float) -> np.ndarray:
    """Smear one swapped face along its track's motion, and remember this frame in ``state``.

    state: the face track's dict (``LandmarkSmoother.track_states``; empty for a new track);
    face: the swapped face, float32 (S, S, 3) BGR in [0, 1];
    matrix: float (2, 3), frame px -> crop px, the face's alignment in this frame;
    timestamp_s: this frame's time in seconds (the same clock as the track's previous frames);
    exposure: seconds of exposure the smear stands for (>= 0; 0 = off: ``face`` is returned).
    Returns float32 (S, S, 3) BGR in [0, 1]: ``face`` itself when there is no previous frame
    (between ``MIN_STEP_S`` and ``MAX_GAP_S`` before, as the smoother counts a track) or the smear
    is under ``MIN_BLUR_PX``.
    Raises ValueError for an exposure that is negative or not finite.
    """
    if not 0.0 <= exposure < float("inf"):
        raise ValueError(f"motion blur exposure must be finite and >= 0 seconds, not {exposure}")
    size = face.shape[0]
    centre = crop_centre_in_frame(matrix, size)
    previous = state.get("motion")
    state["motion"] = (centre, float(timestamp_s))
    if exposure == 0.0 or previous is None:
        return face
    elapsed = float(timestamp_s) - previous[1]
    if not MIN_STEP_S <= elapsed <= MAX_GAP_S:
        return face
    smear_in_frame = (centre - previous[0]) * (exposure / elapsed)
    smear = np.asarray(matrix, np.float64)[:, :2] @ smear_in_frame          # crop px, crop direction
    length = min(float(np.hypot(*smear)), MAX_BLUR_SHARE * size)
    if length < MIN_BLUR_PX:
        return face
    kernel = motion_kernel(length, math.atan2(smear[1], smear[0]))
    return cv2.filter2D(face, -1, kernel, borderType=cv2.BORDER_REFLECT)
