"""Face masks from the 68 landmarks, in aligned-crop pixels.

The mask is the convex hull of the landmarks, extended upwards over the forehead (the
landmarks stop at the eyebrows), then eroded and feathered so a swapped face blends in without
a hard edge. Used by training (loss masked to the face) and by blending (conversion, serving),
where the regions of the person's own features are cut out of it: an open mouth
(``mouth_interior_mask``) and closed eyes (``closed_eyes_mask``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from faceswap.faces.landmarks import inter_ocular_distance
from faceswap.settings import setting


@dataclass
class MaskSettings:
    forehead: float = setting(0.35, "how far above the eyebrows the mask reaches, as a share of brow-to-chin height")
    erode: float = setting(0.03, "erosion of the hull, as a share of the crop size (negative dilates)")
    feather: float = setting(0.08, "width of the feathered edge, as a share of the crop size")


def face_hull_points(landmarks68: np.ndarray, settings: MaskSettings | None = None) -> np.ndarray:
    """(68 + 10, 2) float32 points: the landmarks plus the eyebrows moved up over the forehead."""
    settings = settings or MaskSettings()
    landmarks = np.asarray(landmarks68, dtype=np.float32)
    brows = landmarks[17:27]
    chin = landmarks[8]
    brow_centre = brows.mean(axis=0)
    upwards = brow_centre - chin
    forehead = brows + upwards * settings.forehead
    return np.concatenate([landmarks, forehead])


def _disc(radius: int) -> np.ndarray:
    """uint8 (2 radius + 1, 2 radius + 1) elliptical structuring element: growing or shrinking a
    mask by it moves the edge ``radius`` px in every direction."""
    diameter = 2 * radius + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))


def face_mask(landmarks68: np.ndarray, size: int, settings: MaskSettings | None = None) -> np.ndarray:
    """Mask of the face: float32 (size, size) in [0, 1] from (68, 2) landmarks in crop px."""
    settings = settings or MaskSettings()
    hull = cv2.convexHull(np.round(face_hull_points(landmarks68, settings)).astype(np.int32))
    mask = np.zeros((size, size), dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA)
    erode = int(round(abs(settings.erode) * size))
    if erode > 0:
        mask = cv2.erode(mask, _disc(erode)) if settings.erode > 0 else cv2.dilate(mask, _disc(erode))
    feather = int(round(settings.feather * size))
    if feather > 0:
        # Shrink by half the feather first so the soft edge stays inside the hull.
        half = max(1, feather // 2)
        mask = cv2.erode(mask, _disc(half))
        blur = 2 * feather + 1
        mask = cv2.GaussianBlur(mask, (blur, blur), 0)
    return mask.astype(np.float32) / 255.0


JAW_AND_BROWS = slice(0, 27)
EYES = (slice(36, 42), slice(42, 48))
MOUTH = slice(48, 60)


def eyes_mouth_mask(landmarks68: np.ndarray, size: int, dilate: float = 0.04) -> np.ndarray:
    """The eyes and the mouth: float32 (size, size) in {0, 1} from (68, 2) landmarks in crop px.

    The convex hulls of each eye (36-41, 42-47) and of the outer lip line (48-59), dilated by
    ``dilate`` x ``size`` px. DeepFaceLab's "eyes and mouth priority" weighs the loss in this
    region (SAEHD ``eyes_mouth_prio``); training uses it for that.
    """
    landmarks = np.asarray(landmarks68, dtype=np.float32)
    mask = np.zeros((size, size), dtype=np.uint8)
    for part in (*EYES, MOUTH):
        hull = cv2.convexHull(np.round(landmarks[part]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255)
    grow = int(round(dilate * size))
    if grow > 0:
        mask = cv2.dilate(mask, _disc(grow))
    return (mask > 0).astype(np.float32)


def _fill_hulls(mask: np.ndarray, landmarks: np.ndarray, parts, value: int) -> None:
    for part in parts:
        hull = cv2.convexHull(np.round(landmarks[part] * 8).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, value, shift=3)   # 8-connected (the default line type): hard edges


def features_mask(landmarks68: np.ndarray, size: int, margin: float = 0.06) -> np.ndarray:
    """The brows, eyes and mouth: uint8 (size, size) in {0, 255} from (68, 2) landmarks in crop px.

    The hulls of the eyebrows (17-21, 22-26), the eyes (36-41, 42-47) and the whole mouth (outer
    lip line 48-59: mouth interior, teeth and lips), each grown by ``margin`` x the inter-ocular
    distance: the parts of a face whose colours are not the skin's.
    """
    landmarks = np.asarray(landmarks68, dtype=np.float32)
    features = np.zeros((size, size), dtype=np.uint8)
    _fill_hulls(features, landmarks, (slice(17, 22), slice(22, 27), *EYES, MOUTH), 255)
    grow = int(round(margin * inter_ocular_distance(landmarks)))
    if grow > 0:
        features = cv2.dilate(features, _disc(grow))
    return features


def skin_mask(landmarks68: np.ndarray, size: int, features_margin: float = 0.06) -> np.ndarray:
    """Bare skin of the face: float32 (size, size) in {0, 1} from (68, 2) landmarks in crop px.

    The hull of the jaw line and the eyebrows (0-26), so nothing above the brows (hair) and
    nothing outside the jaw (neck, background), minus ``features_mask`` (brows, eyes, mouth grown
    by ``features_margin`` x the inter-ocular distance). Colour transfer takes its statistics
    here: eyes, brows, teeth and hair have colours of their own that would pull the skin's mean
    and spread.
    """
    landmarks = np.asarray(landmarks68, dtype=np.float32)
    mask = np.zeros((size, size), dtype=np.uint8)
    _fill_hulls(mask, landmarks, (JAW_AND_BROWS,), 255)
    mask[features_mask(landmarks, size, features_margin) > 0] = 0
    return (mask > 0).astype(np.float32)


INNER_LIPS = slice(60, 68)


def mouth_interior_mask(landmarks68: np.ndarray, size: int, grow: float = 0.04, feather: float = 0.03) -> np.ndarray:
    """The open mouth: float32 (size, size) in [0, 1] from (68, 2) landmarks in crop px.

    The hull of the inner lip line (60-67) — teeth, tongue and the dark of the mouth — grown by
    ``grow`` x the inter-ocular distance over the inner edge of the lips and feathered over
    ``feather`` x ``size`` px, and weighed by how far the mouth is open: nothing for a closed
    mouth (lip gap under 4 % of the mouth's width), all of it from 12 % on. Blending keeps the
    original frame here (as Deep-Live-Cam's "mouth mask"), so a mouth the model would close stays
    open with the person's own teeth.
    """
    landmarks = np.asarray(landmarks68, dtype=np.float32)
    opening = mouth_opening_ratio(landmarks)
    weight = float(np.clip((opening - 0.04) / (0.12 - 0.04), 0.0, 1.0))
    weight = weight * weight * (3.0 - 2.0 * weight)  # smoothstep
    if weight <= 0.0:
        return np.zeros((size, size), dtype=np.float32)
    mask = np.zeros((size, size), dtype=np.uint8)
    _fill_hulls(mask, landmarks, (INNER_LIPS,), 255)
    radius = int(round(grow * inter_ocular_distance(landmarks)))
    if radius > 0 and mask.any():
        mask = cv2.dilate(mask, _disc(radius))
    sigma = feather * size
    if sigma > 0 and mask.any():
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return mask.astype(np.float32) * np.float32(weight / 255.0)


def mouth_opening_ratio(landmarks68: np.ndarray) -> float:
    """Gap between the inner lips (61-67, 62-66, 63-65, mean) over the mouth's width (48-54)."""
    landmarks = np.asarray(landmarks68, dtype=np.float64)
    gap = np.linalg.norm(landmarks[[61, 62, 63]] - landmarks[[67, 66, 65]], axis=1).mean()
    width = np.linalg.norm(landmarks[54] - landmarks[48])
    return float(gap / width) if width > 0 else 0.0


LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS = (36, 39), (42, 45)
EYE_LIDS = (((37, 41), (38, 40)), ((43, 47), (44, 46)))   # (upper, lower) lid points of each eye
# Lid gap over eye width at which the closed-eye region starts / is whole. MediaPipe's landmarks
# (faces.detection) read 0.16-0.35 on open eyes and 0.10-0.16 on closed ones (0.13-0.16 where the
# head is turned a little or the eyes close in a smile); the range is narrow because a
# half-blended eye shows both eyes at once (docs/merge-settings.md, "Blinks").
EYE_CLOSING_RATIO, EYE_CLOSED_RATIO = 0.16, 0.14
# Blinks close both eyes, but the two eyes' readings differ by up to ~0.03 (more on a turned head):
# ratios closer than EYE_PAIR_GAP both take the smaller one, so an eye read a little more open does
# not stay the model's while the other is the person's; from EYE_WINK_GAP apart each eye has its
# own (a wink), smoothstep between.
EYE_PAIR_GAP, EYE_WINK_GAP = 0.05, 0.1


def eye_opening_ratios(landmarks68: np.ndarray) -> tuple[float, float]:
    """(image-left eye, image-right eye): mean lid gap (37-41, 38-40 / 43-47, 44-46) over the eye's
    width (corners 36-39 / 42-45) from (68, 2) landmarks — the eye aspect ratio of Soukupova & Cech
    ("Real-Time Eye Blink Detection using Facial Landmarks", CVWW 2016); 0.0 for a degenerate eye."""
    landmarks = np.asarray(landmarks68, dtype=np.float64)
    ratios = []
    for corners, lids in zip((LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS), EYE_LIDS):
        width = np.linalg.norm(landmarks[corners[1]] - landmarks[corners[0]])
        gap = np.mean([np.linalg.norm(landmarks[upper] - landmarks[lower]) for upper, lower in lids])
        ratios.append(float(gap / width) if width > 0 else 0.0)
    return ratios[0], ratios[1]


def paired_eye_ratios(landmarks68: np.ndarray) -> tuple[float, float]:
    """``eye_opening_ratios`` with the two eyes paired: ratios less than ``EYE_PAIR_GAP`` apart both
    become the smaller one, ratios ``EYE_WINK_GAP`` or more apart stay as they are (a wink), and in
    between each moves towards the smaller by a smoothstep share."""
    ratios = eye_opening_ratios(landmarks68)
    smaller = min(ratios)
    share = float(np.clip((EYE_WINK_GAP - abs(ratios[0] - ratios[1])) / (EYE_WINK_GAP - EYE_PAIR_GAP), 0.0, 1.0))
    share = share * share * (3.0 - 2.0 * share)  # smoothstep
    return ratios[0] - share * (ratios[0] - smaller), ratios[1] - share * (ratios[1] - smaller)


def closed_eyes_mask(landmarks68: np.ndarray, size: int, length: float = 1.4, height: float = 0.8,
                     feather: float = 0.15) -> np.ndarray:
    """The closed eyes: float32 (size, size) in [0, 1] from (68, 2) landmarks in crop px.

    Per eye, an ellipse centred between its corners, on the line through them, ``length`` x the
    eye's width long and ``height`` x its width high — where an open eye, its lashes and a lined
    lid would be drawn — feathered outwards with a Gaussian of ``feather`` x the eye's width, and
    weighed by how closed the eye is: nothing while its lid gap is over ``EYE_CLOSING_RATIO`` of its
    width, all of it from ``EYE_CLOSED_RATIO`` down (smoothstep between), the two eyes paired
    (``paired_eye_ratios``) so that a blink read unevenly closes both. Blending keeps the original
    frame here, as it keeps an open mouth (``mouth_interior_mask``): a target whose eyes are open in
    nearly every training frame makes the model draw them open through the user's blinks.
    """
    landmarks = np.asarray(landmarks68, dtype=np.float32)
    mask = np.zeros((size, size), dtype=np.float32)
    for ratio, corners in zip(paired_eye_ratios(landmarks), (LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS)):
        weight = float(np.clip((EYE_CLOSING_RATIO - ratio) / (EYE_CLOSING_RATIO - EYE_CLOSED_RATIO), 0.0, 1.0))
        weight = weight * weight * (3.0 - 2.0 * weight)  # smoothstep
        first, second = landmarks[corners[0]], landmarks[corners[1]]
        width = float(np.linalg.norm(second - first))
        if weight <= 0.0 or width < 1.0:
            continue
        centre = (first + second) / 2.0   # the corners stay where they are as the lids close
        angle = float(np.degrees(np.arctan2(second[1] - first[1], second[0] - first[0])))
        region = np.zeros((size, size), dtype=np.uint8)
        sigma = feather * width
        # Half-axes in 1/8 px, grown by two sigmas so that the weight is ~1 (0.98) on the whole ellipse.
        axes = tuple(max(int(round((share * width / 2.0 + 2.0 * sigma) * 8)), 1) for share in (length, height))
        cv2.ellipse(region, (int(round(centre[0] * 8)), int(round(centre[1] * 8))), axes, angle, 0, 360, 255, -1,
                    cv2.LINE_AA, shift=3)
        if sigma > 0:
            region = cv2.GaussianBlur(region, (0, 0), sigma)
        np.maximum(mask, region.astype(np.float32) * np.float32(weight / 255.0), out=mask)
    return mask
