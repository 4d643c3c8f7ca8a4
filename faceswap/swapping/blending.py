"""Put a swapped face crop back into the frame it came from.

The crop was cut out with an image -> crop similarity matrix (faceswap.faces.alignment); it goes
back with the same matrix through ``alignment.unalign_to_region`` (``cv2.warpAffine`` with
``WARP_INVERSE_MAP``). Only the crop's bounding rectangle in the frame is touched, so the cost
follows the face size, not the frame size, and every pixel where the mask is 0 keeps its exact
original value.

Blend modes:

- ``"feather"`` (default): alpha blend with the feathered face mask.
- ``"poisson"``: ``cv2.seamlessClone`` (gradient-domain blending) inside the face rectangle; the
  result is then alpha-blended with the same feathered mask, so pixels outside the mask are still
  untouched. Better colour continuity, but tens of milliseconds per face: an offline option, not
  one for the live path.

Frames are ``uint8 (H, W, 3)`` **BGR**; face crops are ``float32 (S, S, 3)`` BGR in [0, 1];
masks are ``float32 (S, S)`` in [0, 1]; matrices are ``(2, 3)`` image -> crop.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from faceswap.errors import InputError
from faceswap.faces.alignment import paste_region, unalign_to_region

logger = logging.getLogger(__name__)

BLEND_MODES = ("feather", "poisson")


def _poisson_clone(face_region_bgr: np.ndarray, frame_region_bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """seamlessClone the warped face into the frame region; uint8 (h, w, 3) BGR in and out."""
    binary = np.where(alpha > 0.5, 255, 0).astype(np.uint8)
    # seamlessClone needs the mask clear of the patch border.
    binary[0, :] = binary[-1, :] = 0
    binary[:, 0] = binary[:, -1] = 0
    x, y, width, height = cv2.boundingRect(binary)
    if width < 3 or height < 3:
        return frame_region_bgr
    # OpenCV centres the mask's bounding box on `center`; this keeps the face where it is.
    center = (x + width // 2, y + height // 2)
    try:
        return cv2.seamlessClone(face_region_bgr, frame_region_bgr, binary, center, cv2.NORMAL_CLONE)
    # A safety net no input of paste_face reaches (the guards above keep its masks clonable), so
    # not mutated (docs/testing.md).
    except cv2.error as error:  # pragma: no mutate block
        logger.debug("seamlessClone failed (%s); feather blend instead", str(error).strip().splitlines()[-1])
        return face_region_bgr


def paste_face(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, matrix: np.ndarray,
               mode: str = "feather", interpolation: str = "linear") -> tuple[int, int, int, int] | None:
    """Blend a swapped face crop back into ``frame`` **in place**.

    frame: uint8 (H, W, 3) BGR, modified in place;
    face: float32 (S, S, 3) BGR in [0, 1], the colour-corrected model output;
    mask: float32 (S, S) in [0, 1], crop space (1 = face);
    matrix: (2, 3) image -> crop, the matrix the crop was aligned with;
    mode: one of ``BLEND_MODES``;
    interpolation: the kernel of the one warp back, ``linear``, ``cubic`` or ``lanczos``
    (faces.alignment.PASTE_INTERPOLATIONS; docs/merge-settings.md measures them).
    Returns the frame rectangle ``(x0, y0, x1, y1)`` that was touched, or None when the face lies
    outside the frame.
    Pixels outside that rectangle, and inside it wherever the warped mask is 0, are unchanged.
    """
    if mode not in BLEND_MODES:
        raise InputError(f"unknown blend mode {mode!r}: expected one of {', '.join(BLEND_MODES)}")
    if face.shape[:2] != mask.shape:
        raise ValueError(f"face crop {face.shape} and mask {mask.shape} differ in size")
    region = paste_region(matrix, len(mask), frame.shape)   # crops are square
    x0, y0, x1, y1 = region
    if x1 <= x0 or y1 <= y0:
        return None
    # One warp for face and mask together: 8-bit BGR + alpha, only over the face's rectangle.
    face_and_alpha = np.empty(face.shape[:2] + (4,), dtype=np.uint8)
    face_and_alpha[..., :3] = np.clip(face * 255.0 + 0.5, 0.0, 255.0)
    face_and_alpha[..., 3] = np.clip(mask * 255.0 + 0.5, 0.0, 255.0)
    warped = unalign_to_region(face_and_alpha, matrix, region, interpolation)
    alpha = cv2.extractChannel(warped, 3).astype(np.float32)
    alpha *= np.float32(1.0 / 255.0)
    warped_face = cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR)
    target = frame[y0:y1, x0:x1]
    if mode == "poisson":
        warped_face = _poisson_clone(warped_face, np.ascontiguousarray(target), alpha)
    # alpha * face + (1 - alpha) * frame, rounded; where alpha == 0 the frame pixel is kept exactly.
    target[...] = cv2.blendLinear(warped_face, np.ascontiguousarray(target), alpha, 1.0 - alpha)
    return region
