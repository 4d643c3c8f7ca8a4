"""Gaze: move the swapped face's irises to where the user's eyes look.

Decoder B draws its person's eyes as her footage shows them. On the people the model never saw the
default model's irises sit 0.13-0.21 of the eye's width from the user's, nearer the nose, in every
frame (d12, d18, v25, v26: a cross-eyed look while the user looks into the camera; docs/
merge-settings.md, "Gaze"). The landmark warp (faceswap.swapping.landmark_warp) moves the eyes
with the face but cannot move an iris inside its eye: its field is far wider than an eye. This
module adds a second, local field for the irises:

1. each face's irises are found with MediaPipe's iris model (faceswap.faces.iris) in the landmark
   warp's context crop, the user's before the swap is pasted in, the swapped face's after;
2. per eye open in both, the swapped iris is moved along the eye (from corner to corner) a share
   ``share`` of the way to the user's position there, at most ``MAX_SHIFT`` eye widths; across the
   eye it stays (moving it up or down would move the lids, the eye's opening);
3. the move is a Gaussian radial basis field (faceswap.swapping.landmark_warp.displacement_field)
   through the iris's centre and four rim points, all moved alike, ``RADIUS_SHARE`` of the eye's
   width wide, pinned to 0 at the eye's corners, so only the eye itself moves; it is composed with
   the landmark warp's field so the face is resampled once.

Gaze correction by warping the eye region is the classic way (e.g. Kononenko & Lempitsky,
"Learning to look up: realtime monocular gaze correction using machine learning", CVPR 2015,
which learns such a warp field; here the field comes from the iris model's two positions).

Points are crop px (x, y) of the model crop, ``size`` px square; fields float32 (S, S, 2) px.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.faces.iris import EYE_CORNERS, gaze_of, point_at_gaze

# The iris moves at most this many eye widths (the model's bias is 0.13-0.21; a larger reading is a
# failed iris).
MAX_SHIFT = 0.3
# Sigma of the iris's field as a share of the eye's width (corner to corner): the iris's radius is
# ~0.2-0.25 of it, so the iris and the white around it move together.
RADIUS_SHARE = 0.3
# The 68 landmarks of each eye's corners (image-left, image-right), in ``EYE_CORNERS`` order.
EYE_CORNERS_68 = ((36, 39), (42, 45))


# On video the irises are read on one frame in this many (the four iris-model runs cost ~6.5 ms
# of CPU a face); between, the last readings are used: they are kept in each eye's own frame, so
# they follow the eyes.
IRIS_EVERY = 2


def irises_in_eyes(irises: list, mesh: np.ndarray) -> list[np.ndarray | None]:
    """Each eye's iris points (faceswap.faces.iris.irises: (5, 2) px or None) in that eye's own
    frame (``gaze_of``: along, across, in eye widths) of ``mesh`` ((468, 2+) px of the same image):
    (5, 2) float64 per eye in ``EYE_CORNERS`` order, or None."""
    return [None if iris is None else gaze_of(iris, mesh[left], mesh[right])
            for iris, (left, right, _) in zip(irises, EYE_CORNERS)]


def gaze_shifts(user_eyes: list, swapped_eyes: list, share: float) -> list[float | None]:
    """Per eye, how far the swapped iris should move along its eye, in eye widths (positive:
    towards the image-right corner): ``share`` of the way to the user's iris centre, at most
    ``MAX_SHIFT``; None where either face's iris was not found. Eyes as ``irises_in_eyes``."""
    return [None if user is None or swapped is None
            else float(np.clip(share * (user[0, 0] - swapped[0, 0]), -MAX_SHIFT, MAX_SHIFT))
            for user, swapped in zip(user_eyes, swapped_eyes)]


def gaze_field(corners68: np.ndarray, swapped_eyes: list, shifts: list[float | None], size: int) -> np.ndarray | None:
    """The field that moves each swapped iris ``shifts`` eye widths along its eye: float32 (S, S, 2)
    px, in the coordinates of the face after the landmark warp, whose eye corners are at the 68
    points ``corners68`` ((68, 2) crop px: the warp's targets). None when no eye moves.

    The iris keeps its place in its eye through the landmark warp (the warp's field is smooth over
    an eye), so its points are put back from their eye coordinates (``irises_in_eyes``) on the
    warped corners."""
    from faceswap.swapping.landmark_warp import displacement_field

    targets, sources, widths = [], [], []
    for shift, iris, (left68, right68) in zip(shifts, swapped_eyes, EYE_CORNERS_68):
        corners = (corners68[left68], corners68[right68])
        targets += list(corners)
        sources += list(corners)
        if shift is None or iris is None or abs(shift) < 1e-3:
            continue
        # the iris's centre and rim, each moved: the whole iris moves, not only its middle; the
        # output px at a moved point shows the warped face's px at the point
        targets += list(point_at_gaze(iris + np.array([shift, 0.0]), *corners))
        sources += list(point_at_gaze(iris, *corners))
        widths.append(float(np.linalg.norm(corners[1] - corners[0])))
    if not widths:
        return None
    radius = RADIUS_SHARE * float(np.mean(widths)) / size
    return displacement_field(np.array(targets), np.array(sources), size, radius, downscale=2)


def reads_irises(state: dict | None, key: object) -> bool:
    """Whether this frame of a face track (``state``, None for a still) reads the irises afresh."""
    kept = state.get("gaze") if state is not None else None
    return kept is None or kept[0] != key or kept[1] >= IRIS_EVERY - 1


def frame_gaze_field(state: dict | None, key: object, share: float, smoothing: float, corners68: np.ndarray,
                     found: tuple | None, size: int) -> np.ndarray | None:
    """This frame's ``gaze_field`` (corners68: (68, 2) crop px, where the landmark warp puts the
    eyes' corners). found: (user irises, user mesh, swapped irises, swapped mesh), as
    ``irises_in_eyes`` takes them, on a frame that ``reads_irises``, else None (the track's last
    readings are used). On video (``state``: the face track's dict; key: what the swap was made
    with) the shifts move ``smoothing`` of the way from the previous frame's, and an eye not read
    (closed) keeps its last shift while the swapped eye's last reading lasts."""
    kept = state.get("gaze") if state is not None else None
    if kept is not None and kept[0] != key:
        kept = None
    if found is not None:
        user_irises, user_mesh, swapped_irises, swapped_mesh = found
        age, user_eyes, swapped_eyes = 0, irises_in_eyes(user_irises, user_mesh), irises_in_eyes(swapped_irises, swapped_mesh)
    elif kept is not None:
        age, user_eyes, swapped_eyes = kept[1] + 1, kept[2], kept[3]
    else:
        return None
    shifts = gaze_shifts(user_eyes, swapped_eyes, share)
    if kept is not None:
        # an eye not read this time (a blink) keeps its last shift, so it does not jump when it opens
        shifts = [before if now is None else now if before is None else before + smoothing * (now - before)
                  for now, before in zip(shifts, kept[4])]
    if state is not None:
        state["gaze"] = (key, age, user_eyes, swapped_eyes, shifts)
    return gaze_field(corners68, swapped_eyes, shifts, size)


def compose_fields(first: np.ndarray, strength: float, then: np.ndarray | None) -> np.ndarray:
    """One field for warping by ``strength`` x ``first`` and then by ``then`` (both float32 (S, S, 2)
    px, as faceswap.swapping.landmark_warp.warp_face uses them): output px p shows the face's px
    p + then(p) + strength x first(p + then(p)). ``then`` None: ``strength`` x ``first``."""
    if then is None:
        return (np.float32(strength) * first).astype(np.float32)
    size = first.shape[0]
    axis = np.arange(size, dtype=np.float32)
    moved = cv2.remap(first, axis[None, :] + then[..., 0], axis[:, None] + then[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    return (then + np.float32(strength) * moved).astype(np.float32)
