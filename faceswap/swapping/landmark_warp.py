"""Landmark warp: move the swapped face's features onto the user's landmarks.

Decoder B draws its person's features where *her* footage puts them: d6's one clip is mostly
frontal and level, so on a user who turns or tilts the head the eyes, nose and mouth come out a
few pixels nearer a frontal face than the user's (pose error 3.8-4.7 degrees on d12 and d18,
landmark error 0.04-0.07 of the inter-ocular distance against 0.01 for the pass-through;
docs/merge-settings.md, "Landmark warp"). This module measures where the features of the swapped
face actually are and bends it, smoothly, so that they land on the user's:

1. the swapped face is put into a crop of its surroundings (the frame around it, twice the model
   crop's side, so the face has the margin MediaPipe's landmark model expects) and the 468-point
   face mesh is run on it once (``FaceLandmarkModel``, the tracker's own model, region from the
   user's mesh as MediaPipe's tracking loop does);
2. the displacements from the user's 68 landmarks to the swapped face's are interpolated over the
   crop by Gaussian radial basis functions with a ridge (regularised RBF interpolation, e.g.
   Wendland, "Scattered Data Approximation", 2005, ch. 8 and 11): a smooth field that is 0 far
   from the face, so the border and the mask's seam stay where they are;
3. the swapped face is resampled through that field (``cv2.remap``, bicubic), scaled by the
   strength: 1 puts every feature where the user's is, 0 leaves the face as drawn; with ``gaze``
   the irises are also read (MediaPipe's iris model on both faces in the same context crop) and
   moved along their eyes to the user's by a local field composed with this one
   (faceswap.swapping.gaze), so the face is still resampled once.

This is the classic landmark-driven face morph (Beier & Neely, "Feature-based image
metamorphosis", SIGGRAPH 1992; the Delaunay warp of LearnOpenCV's "Face Swap using OpenCV") with
a smooth field instead of triangles. The features' *positions* are the user's; their shapes and
the face's texture stay the model's. Position carries some identity (how far apart the eyes are,
how long the nose is), so where the features go is a trade of pose and expression against
identity: the warp's targets are the swapped face's own landmarks turned to the user's head pose
(``posed_landmarks``: its shape kept), moved a share ``features`` of the way on to the user's own
landmarks (0: pose only; 1: every feature on the user's).

Images are model-crop sized ``float32 (S, S, 3)`` **BGR** in [0, 1]; landmarks ``(68, 2)`` crop
px (x, y); frames ``uint8 (H, W, 3)`` BGR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from faceswap.faces.alignment import transform_points, warp_to_crop
from faceswap.faces.iris import irises, shared_iris_model
from faceswap.faces.landmarks import MESH_TO_68, mesh_to_68
from faceswap.swapping.gaze import compose_fields, frame_gaze_field, reads_irises

logger = logging.getLogger(__name__)

# The context crop around the swapped face is this many times the model crop's side: MediaPipe's
# landmark model wants a region 1.5x the face mesh's box, and the model crop is the inner face.
CONTEXT_SCALE = 2
# The field is computed on a grid this many times coarser than the crop (it is smooth: its
# sigma is at least a tenth of the crop, several cells).
_DOWNSCALE = 8
# Ridge of the RBF system (in units of the kernel's peak): neighbouring landmarks (an eyelid's
# points lie 1-3 px apart) make the plain system ill-conditioned, and the landmark model's own
# noise should be smoothed, not interpolated exactly. Measured (docs/merge-settings.md, "Landmark
# warp"): 0.3 → 0.1 lowers the pose error by up to 0.26° with identity unchanged; 0.03 lowers it
# a little more but the swapped face drifts from its target (mean distance +0.004).
_RIDGE = 0.1
# No displacement beyond this share of the crop is believed: larger ones are a failed mesh.
MAX_DISPLACEMENT_SHARE = 0.12
# Video: each frame's displacements move this share of the way from the previous frame's towards
# this frame's (an exponential moving average per face track): the mesh of a generated face jitters
# by a fraction of a pixel from frame to frame, and a warp that followed it would shimmer.
DISPLACEMENT_SMOOTHING = 0.5
# The warp's targets by default (``SwapSettings.landmark_warp_features``): the swapped face's own
# landmarks turned to the user's head pose and moved this share of the way on to the user's own.
# Measured (docs/merge-settings.md, "Landmark warp"): from 0 (pose only) to 0.35 the pose error
# falls on d12 / d18 / v25 (3.16 → 2.96°, 2.60 → 2.42°, 2.32 → 1.39°) and the mouth and eyes
# follow better, for +0.006 of mean distance to the target; 1 (every feature on the user's) costs
# identity (v26 judged the target in 50 % of frames).
FEATURES_SHARE = 0.35
# The 68 landmarks the pose is fitted on (``posed_landmarks``): brows, nose, eyes, mouth.
INNER_POINTS = slice(17, 68)
# Below this face-presence probability the mesh of the swapped face is not trusted: no warp.
MIN_PRESENCE = 0.5


def context_matrix(matrix: np.ndarray, size: int) -> np.ndarray:
    """(2, 3) frame -> context-crop matrix for a face aligned by ``matrix`` (frame -> model crop of
    ``size`` px): the same scale, the crop ``CONTEXT_SCALE`` times as wide around the same centre."""
    shifted = np.array(matrix, dtype=np.float64, copy=True)
    shifted[:, 2] += size * (CONTEXT_SCALE - 1) / 2.0
    return shifted


def face_meshes(frame: np.ndarray, matrix: np.ndarray, swapped: np.ndarray, mask: np.ndarray,
                user_mesh: np.ndarray, landmark_model, with_user: bool = False
                ) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(swapped mesh, presence, user mesh or None) of ``_context_meshes`` (which see)."""
    found = _context_meshes(frame, matrix, swapped, mask, user_mesh, landmark_model, with_user)
    return found.mesh, found.presence, found.user


@dataclass
class _Found:
    """What ``_context_meshes`` found (crop px): the swapped face's mesh and presence, the user's
    mesh (or None), and with an iris model each face's irises (faceswap.faces.iris.irises, or None)."""

    mesh: np.ndarray
    presence: float
    user: np.ndarray | None
    user_irises: list | None = None
    swapped_irises: list | None = None


def _context_meshes(frame: np.ndarray, matrix: np.ndarray, swapped: np.ndarray, mask: np.ndarray,
                    user_mesh: np.ndarray, landmark_model, with_user: bool = False, iris_model=None) -> _Found:
    """The swapped face's 3-D face mesh in crop px, its presence, and (``with_user``) the user's.

    frame: uint8 (H, W, 3) BGR, the user's frame; matrix: (2, 3) frame -> model crop;
    swapped: float32 (S, S, 3) BGR [0, 1], the swapped face in that crop; mask: float32 (S, S)
    [0, 1], where it replaces the frame; user_mesh: (468, 2) frame px, the user's face mesh (its
    box sets the landmark model's region, as in MediaPipe's tracking loop); landmark_model: a
    ``FaceLandmarkModel`` (faceswap.faces.landmark_model).
    Returns a ``_Found``: swapped mesh float64 (468, 3), presence in [0, 1], user mesh float64
    (468, 3) or None (x, y crop px, z relative depth in crop px), and with ``iris_model`` (an
    ``IrisModel``, faceswap.faces.iris; it also finds the user's mesh) both faces' irises per eye,
    float64 (5, 2) crop px or None. The user's mesh is found in the same context
    crop without the swap, so a bias of the landmark model at this scale is the same for both: a
    pass-through face is then moved by 0.0005-0.0007 of the inter-ocular distance, against 0.003-
    0.012 with the tracker's mesh of the frame and 0.007-0.017 with the detector's (d12, d18, v25,
    v26; docs/merge-settings.md, "Landmark warp"), which is why this costs one more model run.
    """
    size = swapped.shape[0]
    to_context = context_matrix(matrix, size)
    context = warp_to_crop(frame, to_context, size * CONTEXT_SCALE, "linear")
    from faceswap.faces.landmark_model import roi_from_mesh

    roi = roi_from_mesh(transform_points(user_mesh, to_context))
    start = size * (CONTEXT_SCALE - 1) // 2
    shift = np.array([start, start, 0.0])
    user = user_irises = swapped_irises = None
    if with_user or iris_model is not None:
        rgb = np.ascontiguousarray(context[..., ::-1])
        user = landmark_model.run_3d(rgb, roi)[0].astype(np.float64)
        if iris_model is not None:
            user_irises = _in_crop(irises(rgb, user, iris_model), shift)
        user -= shift
    inner = context[start:start + size, start:start + size]
    weight = mask[..., None]
    blended = inner + weight * (swapped * np.float32(255.0) - inner)
    inner[...] = np.clip(blended + np.float32(0.5), 0, 255)
    rgb = np.ascontiguousarray(context[..., ::-1])
    mesh, presence = landmark_model.run_3d(rgb, roi)
    mesh = mesh.astype(np.float64)
    if iris_model is not None:
        swapped_irises = _in_crop(irises(rgb, mesh, iris_model), shift)
    return _Found(mesh - shift, presence, user, user_irises, swapped_irises)


def _in_crop(found: list, shift: np.ndarray) -> list:
    """Irises found in the context crop, moved into the model crop's px."""
    return [None if iris is None else iris - shift[:2] for iris in found]


def swapped_landmarks(frame: np.ndarray, matrix: np.ndarray, swapped: np.ndarray, mask: np.ndarray,
                      user_mesh: np.ndarray, landmark_model) -> tuple[np.ndarray, float]:
    """Where the swapped face's features are: ((68, 2) float64 crop px, face presence in [0, 1]);
    arguments as in ``face_meshes``."""
    mesh, presence, _ = face_meshes(frame, matrix, swapped, mask, user_mesh, landmark_model)
    return mesh_to_68(mesh[:, :2]).astype(np.float64), presence


def similarity_3d(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares (scale, rotation (3, 3), translation (3,)) with target ~ scale * R @ source + t,
    for (N, 3) point sets (Umeyama, PAMI 1991, in three dimensions; a proper rotation, no mirror)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred = source - source_mean
    covariance = (target - target_mean).T @ centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    signs = np.array([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ np.diag(signs) @ vt
    variance = (centred ** 2).sum() / len(source)
    scale = float(singular @ signs / variance) if variance > 0 else 1.0
    return scale, rotation, target_mean - scale * rotation @ source_mean


def posed_landmarks(swapped_mesh: np.ndarray, user_mesh: np.ndarray) -> np.ndarray:
    """The swapped face's own 68 landmarks turned to the user's head pose: (68, 2) crop px.

    Both meshes float (468, 3) crop px (``face_meshes``). The rotation, scale and shift that best
    carry the swapped face's inner points (brows, nose, eyes, mouth) onto the user's in 3-D are
    applied to the swapped face's points, which are then seen from the camera again (orthographic,
    as the mesh is): the user's head pose and position, the swapped face's own shape. The jaw
    (points 0-16), which the mask leaves the user's, stays where it is found.
    """
    swapped68 = np.asarray(swapped_mesh, dtype=np.float64)[MESH_TO_68]
    user68 = np.asarray(user_mesh, dtype=np.float64)[MESH_TO_68]
    scale, rotation, translation = similarity_3d(swapped68[INNER_POINTS], user68[INNER_POINTS])
    posed = swapped68[:, :2].copy()
    posed[INNER_POINTS] = (scale * swapped68[INNER_POINTS] @ rotation.T + translation)[:, :2]
    return posed


def displacement_field(targets: np.ndarray, sources: np.ndarray, size: int, radius: float,
                       downscale: int = _DOWNSCALE) -> np.ndarray:
    """The smooth field that sends each target to its source: float32 (S, S, 2) px (dx, dy).

    targets: (K, 2) crop px, where the features should be (the user's landmarks); sources: (K, 2)
    crop px, where they are in the swapped face; radius: the Gaussian kernel's sigma as a share of
    the crop side ``size``. The field at a target is (nearly, the fit is regularised) its source
    minus the target, and falls to 0 a few radii away from every landmark. Displacements longer
    than ``MAX_DISPLACEMENT_SHARE`` of the crop are shortened to it. The field is computed on a grid
    ``downscale`` times coarser than the crop and resized (1: every px; a field whose sigma is only
    a few px, as the gaze's, needs a fine grid).
    Raises ValueError for shapes that differ, non-finite points or a radius that is not > 0.
    """
    targets = np.asarray(targets, dtype=np.float64)
    sources = np.asarray(sources, dtype=np.float64)
    if targets.shape != sources.shape or targets.ndim != 2 or targets.shape[1] != 2:
        raise ValueError(f"targets {targets.shape} and sources {sources.shape} must both be (K, 2)")
    if not (np.all(np.isfinite(targets)) and np.all(np.isfinite(sources))):
        raise ValueError("landmarks must be finite")
    if not radius > 0:
        raise ValueError(f"the radius must be > 0, not {radius}")
    sigma = radius * size
    displacement = sources - targets
    longest = MAX_DISPLACEMENT_SHARE * size
    length = np.linalg.norm(displacement, axis=1, keepdims=True)
    displacement *= np.minimum(1.0, longest / np.maximum(length, 1e-9))
    kernel = _gaussian(targets, targets, sigma)
    kernel[np.diag_indices_from(kernel)] += _RIDGE
    weights = np.linalg.solve(kernel, displacement)
    cells = max(size // max(int(downscale), 1), 4)
    axis = (np.arange(cells) + 0.5) * (size / cells) - 0.5
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    coarse = (_gaussian(grid, targets, sigma) @ weights).reshape(cells, cells, 2).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR)


def _gaussian(points: np.ndarray, centres: np.ndarray, sigma: float) -> np.ndarray:
    """(N, K) float64 exp(-|p - c|^2 / (2 sigma^2)) of (N, 2) points and (K, 2) centres."""
    squared = ((points ** 2).sum(1)[:, None] + (centres ** 2).sum(1)[None, :] - 2.0 * points @ centres.T)
    return np.exp(np.maximum(squared, 0.0) * (-0.5 / sigma ** 2))


def warp_face(face: np.ndarray, field: np.ndarray, strength: float) -> np.ndarray:
    """``face`` (float32 (S, S, 3) BGR [0, 1]) resampled so that output px p shows face px
    p + strength * field[p] (bicubic, border repeated); float32 (S, S, 3) in [0, 1]."""
    size = face.shape[0]
    axis = np.arange(size, dtype=np.float32)
    map_x = axis[None, :] + np.float32(strength) * field[..., 0]
    map_y = axis[:, None] + np.float32(strength) * field[..., 1]
    warped = cv2.remap(face, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.clip(warped, 0.0, 1.0, out=warped)


def landmark_warp(frame: np.ndarray, matrix: np.ndarray, swapped: np.ndarray, mask: np.ndarray,
                  user_landmarks: np.ndarray, user_mesh: np.ndarray, landmark_model, strength: float,
                  radius: float, state: dict | None = None, key: object = None, features: float = FEATURES_SHARE,
                  smoothing: float = DISPLACEMENT_SMOOTHING, every: int = 1, gaze: float = 0.0,
                  iris_model=None) -> np.ndarray:
    """The swapped face warped ``strength`` of the way towards its targets: its own landmarks turned
    to the user's head pose (``posed_landmarks``: its shape kept, identity with it), moved
    ``features`` (in [0, 1]) of the way on to the user's landmarks ``user_landmarks`` ((68, 2)
    crop px, the user's in this frame): 0 turns the face only, 1 puts every feature on the user's
    (default ``FEATURES_SHARE``, the merge's own default).
    The other arguments as in ``face_meshes``; radius as in ``displacement_field``; state: this
    face track's dict on video (the smoother's ``track_states``), where the displacements are
    smoothed from frame to frame (each frame's moves ``smoothing`` of the way from the previous
    frame's, in (0, 1]: 1 = not smoothed), None for a still; key: what the swap
    was made with (model, direction): a state kept under another key starts afresh; every: on
    video, the meshes are found and the field made on one frame in ``every`` (>= 1), and the
    frames between are warped with the last field (the field lives in the aligned crop, which
    follows the face): a landmark-model pair and the field cost ~7 ms of CPU, the warp alone 0.4;
    gaze: in [0, 1], move each swapped iris that share of the way to the user's position along the
    eye (faceswap.swapping.gaze; 0 = off; four iris-model runs, ``iris_model`` or the process's
    shared one, on one frame in ``gaze.IRIS_EVERY`` of a video), in the same resampling; on video
    its moves are smoothed as the displacements are.
    Returns float32 (S, S, 3) BGR [0, 1]: ``swapped`` itself (unchanged) when the landmark model
    does not find the swapped face. Raises ValueError for ``features`` or ``gaze`` outside [0, 1] or
    ``every`` < 1.
    """
    if not 0.0 <= features <= 1.0:   # also refuses NaN
        raise ValueError(f"the landmark warp's features share is in [0, 1], not {features}")
    if not 0.0 <= gaze <= 1.0:
        raise ValueError(f"the gaze share is in [0, 1], not {gaze}")
    if every < 1:
        raise ValueError(f"the landmark warp runs on one frame in every >= 1 frames, not {every}")
    size = swapped.shape[0]
    if state is not None and every > 1:
        kept = state.get("landmark_warp_field")
        if kept is not None and kept[0] == key and kept[1].shape[:2] == (size, size) and kept[2] < every - 1:
            state["landmark_warp_field"] = (key, kept[1], kept[2] + 1)
            return warp_face(swapped, kept[1], 1.0)
    read_irises = gaze > 0 and reads_irises(state, key)
    if read_irises and iris_model is None:
        iris_model = shared_iris_model()
    meshes = _context_meshes(frame, matrix, swapped, mask, user_mesh, landmark_model, with_user=features < 1.0,
                             iris_model=iris_model if read_irises else None)
    mesh, presence, user = meshes.mesh, meshes.presence, meshes.user
    found = mesh_to_68(mesh[:, :2]).astype(np.float64)
    if presence < MIN_PRESENCE or not np.all(np.isfinite(found)):
        logger.debug("landmark warp: the swapped face's mesh was not found (presence %.2f); not warped", presence)
        if state is not None:
            state.pop("landmark_warp_field", None)
        return swapped
    targets = np.asarray(user_landmarks, dtype=np.float64)
    if features < 1.0:
        posed = posed_landmarks(mesh, user)
        targets = posed + features * (targets - posed)
    displacement = found - targets
    if state is not None:
        previous = state.get("landmark_warp")
        if previous is not None and previous[0] == key and previous[1].shape == displacement.shape:
            displacement = previous[1] + smoothing * (displacement - previous[1])
        state["landmark_warp"] = (key, displacement)
    field = displacement_field(targets, targets + displacement, size, radius)
    iris_field = None
    if gaze > 0:
        found_irises = (meshes.user_irises, user, meshes.swapped_irises, mesh) if read_irises else None
        # with strength s < 1 a feature lands s of the way from where it is to its target
        landed = targets + (1.0 - strength) * displacement
        iris_field = frame_gaze_field(state, key, gaze, smoothing, landed, found_irises, size)
    field = compose_fields(field, strength, iris_field)
    if state is not None and every > 1:
        state["landmark_warp_field"] = (key, field, 0)
    return warp_face(swapped, field, 1.0)
