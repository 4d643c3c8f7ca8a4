"""The eye/mouth masks (faceswap/faces/masks.py): eyes_mouth_mask (the training loss weight),
mouth_opening_ratio and mouth_interior_mask (blending keeps a person's open mouth),
eye_opening_ratios and closed_eyes_mask (blending keeps a person's closed eyes), on a
synthetic face laid out from the mean face of the alignment template (no detector needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.faces.alignment import MEAN_FACE, TEMPLATE_POINTS
from faceswap.faces.masks import (EYE_CLOSED_RATIO, EYE_CLOSING_RATIO, EYE_PAIR_GAP, EYE_WINK_GAP, MaskSettings,
                                  closed_eyes_mask, eye_opening_ratios, eyes_mouth_mask, face_hull_points,
                                  face_mask, mouth_interior_mask, mouth_opening_ratio, paired_eye_ratios,
                                  skin_mask)

SIZE = 128


def synthetic_face(opening: float = 0.0) -> np.ndarray:
    """(68, 2) landmarks in a SIZE px crop: brows, eyes, nose and lips from the mean face, a jaw
    arc, and the inner lips parted so that mouth_opening_ratio is ``opening``."""
    points = np.zeros((68, 2))
    points[TEMPLATE_POINTS] = MEAN_FACE * SIZE * 0.6 + SIZE * 0.2
    angles = np.linspace(np.pi, 0, 17)
    points[:17] = np.stack([SIZE / 2 + np.cos(angles) * SIZE * 0.4, SIZE * 0.45 + np.sin(angles) * SIZE * 0.45], 1)
    width = np.linalg.norm(points[54] - points[48])
    middle = (points[48] + points[54]) / 2
    for top, bottom, x in ((61, 67, -0.2), (62, 66, 0.0), (63, 65, 0.2)):
        points[top] = middle + (x * width, -opening * width / 2)
        points[bottom] = middle + (x * width, opening * width / 2)
    points[60], points[64] = middle - (0.35 * width, 0), middle + (0.35 * width, 0)
    return points


def test_the_opening_ratio_is_the_mean_inner_lip_gap_over_the_mouth_width():
    for opening in (0.0, 0.05, 0.3):
        assert mouth_opening_ratio(synthetic_face(opening)) == pytest.approx(opening, abs=1e-9)
    face = synthetic_face(0.2)
    face[[61, 67]] += [[0, -3], [0, 3]]   # one pair further apart: the mean of the three gaps
    width = np.linalg.norm(face[54] - face[48])
    assert mouth_opening_ratio(face) == pytest.approx(0.2 + 6 / width / 3, abs=1e-9)
    flat = synthetic_face(0.2)
    flat[54] = flat[48]
    assert mouth_opening_ratio(flat) == 0.0


def test_the_mouth_interior_is_weighed_by_how_far_the_mouth_is_open():
    for closed in (0.0, 0.04):
        mask = mouth_interior_mask(synthetic_face(closed), SIZE)
        assert mask.shape == (SIZE, SIZE) and mask.dtype == np.float32 and not mask.any()
    assert mouth_interior_mask(synthetic_face(0.12), SIZE, feather=0.0).max() == 1.0
    assert mouth_interior_mask(synthetic_face(0.3), SIZE, feather=0.0).max() == 1.0
    # Half-way between 4 % and 12 %: smoothstep(0.5) = 0.5; a quarter: smoothstep(0.25) = 0.15625.
    assert mouth_interior_mask(synthetic_face(0.08), SIZE, feather=0.0).max() == pytest.approx(0.5, abs=1e-4)
    assert mouth_interior_mask(synthetic_face(0.06), SIZE, feather=0.0).max() == pytest.approx(0.15625, abs=1e-4)
    wide = mouth_interior_mask(synthetic_face(0.12), SIZE)
    half = mouth_interior_mask(synthetic_face(0.08), SIZE)
    assert 0 < half.max() < wide.max() * 0.6
    face = synthetic_face(0.12)
    centre = np.round(face[60:68].mean(axis=0)).astype(int)
    assert wide[centre[1], centre[0]] == wide.max() > 0.5
    assert wide[int(face[30][1]), int(face[30][0])] < 0.05      # the nose tip is outside
    assert wide[: SIZE // 3].max() == 0.0                       # nothing near the eyes
    # Grown and feathered: more area than the bare hull, soft edges.
    bare = mouth_interior_mask(face, SIZE, grow=0.0, feather=0.0)
    assert set(np.unique(bare)) <= {0.0, 1.0} and (bare > 0).sum() < (wide > 0.5).sum() < (wide > 0).sum()
    assert ((wide > 0.05) & (wide < 0.95)).sum() > 20
    grown = mouth_interior_mask(face, SIZE, grow=0.2, feather=0.0)
    assert (grown > 0).sum() > (bare > 0).sum()


def test_eyes_and_mouth_are_marked_and_the_rest_of_the_face_is_not():
    face = synthetic_face(0.0)
    mask = eyes_mouth_mask(face, SIZE)
    assert mask.shape == (SIZE, SIZE) and mask.dtype == np.float32 and set(np.unique(mask)) == {0.0, 1.0}
    for part in (slice(36, 42), slice(42, 48), slice(48, 60)):
        x, y = np.round(face[part].mean(axis=0)).astype(int)
        assert mask[y, x] == 1.0
    for point in (30, 8, 19):                       # nose tip, chin, a brow
        x, y = np.round(face[point]).astype(int)
        assert mask[y, x] == 0.0, point
    bare = eyes_mouth_mask(face, SIZE, dilate=0.0)
    assert (bare <= mask).all() and bare.sum() < mask.sum()
    grow = int(round(0.04 * SIZE))
    assert mask.sum() - bare.sum() > grow * 40      # dilated by about 0.04 x size all round


def within(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels at most ``radius`` px (Euclidean) from the set pixels of a {0, 1} ``mask``."""
    outside = (mask == 0).astype(np.uint8)
    return cv2.distanceTransform(outside, cv2.DIST_L2, 5) <= radius


def assert_grown_by(grown: np.ndarray, bare: np.ndarray, radius: int) -> None:
    """``grown`` is ``bare`` dilated by a disc of ``radius`` px: it reaches every pixel within
    radius - 0.5 and none beyond radius + 1 (OpenCV's digital disc; a square would reach 1.41 x)."""
    grown = grown > 0
    assert grown.sum() > (bare > 0).sum() and (grown >= (bare > 0)).all(), "not grown"
    assert within(bare, radius - 0.5)[~grown].sum() == 0, "not grown far enough"
    assert grown[~within(bare, radius + 1.0)].sum() == 0, "grown too far (or not round)"


def test_the_eyes_and_mouth_are_grown_by_a_disc_of_dilate_times_size():
    face = synthetic_face(0.0)
    bare = eyes_mouth_mask(face, SIZE, dilate=0.0)
    for dilate in (0.04, 0.1, 1.0 / SIZE):          # 5, 13 and 1 px
        assert_grown_by(eyes_mouth_mask(face, SIZE, dilate=dilate), bare, int(round(dilate * SIZE)))


def test_the_mouth_interior_is_grown_by_a_share_of_the_eye_distance_and_feathered_round():
    face = synthetic_face(0.2)
    eye_distance = np.linalg.norm(face[36:42].mean(axis=0) - face[42:48].mean(axis=0))
    bare = mouth_interior_mask(face, SIZE, grow=0.0, feather=0.0)
    for grow in (0.2, 1.0 / eye_distance):           # about 7 px, and exactly 1 px
        assert_grown_by(mouth_interior_mask(face, SIZE, grow=grow, feather=0.0), bare, int(round(grow * eye_distance)))
    # A feather of half a pixel still softens the edge; a wider one is as wide across as down.
    slight = mouth_interior_mask(face, SIZE, grow=0.0, feather=0.5 / SIZE)
    assert ((slight > 0.02) & (slight < 0.98)).any()
    # Feathering is a round Gaussian blur of sigma = feather x size px.
    soft = mouth_interior_mask(face, SIZE, grow=0.0, feather=4.0 / SIZE)
    expected = cv2.GaussianBlur((bare * 255).astype(np.uint8), (0, 0), 4.0).astype(np.float32) / 255.0
    np.testing.assert_allclose(soft, expected, atol=0.01)


def test_the_hull_reaches_over_the_forehead_by_a_share_of_brow_to_chin():
    face = synthetic_face(0.0)
    points = face_hull_points(face)
    assert points.shape == (78, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points[:68], face, atol=1e-4)
    brows, chin = face[17:27], face[8]
    np.testing.assert_allclose(points[68:], brows + (brows.mean(axis=0) - chin) * 0.35, atol=1e-3)
    higher = face_hull_points(face, MaskSettings(forehead=0.7))
    np.testing.assert_allclose(higher[68:], brows + (brows.mean(axis=0) - chin) * 0.7, atol=1e-3)


def test_the_face_mask_is_eroded_or_dilated_by_a_disc_and_drawn_anti_aliased():
    face = synthetic_face(0.0)
    exact = face_mask(face, SIZE, MaskSettings(erode=0.0, feather=0.0))
    assert ((exact > 0) & (exact < 1)).any()          # anti-aliased edge, not a staircase
    hull = (exact > 0.5).astype(np.uint8)
    for erode in (0.05, 1.0 / SIZE):                  # 6 px and 1 px
        radius = int(round(erode * SIZE))
        eroded = (face_mask(face, SIZE, MaskSettings(erode=erode, feather=0.0)) > 0.5).astype(np.uint8)
        assert_grown_by(1 - eroded, 1 - hull, radius)  # the outside grew into the hull by the disc
        dilated = (face_mask(face, SIZE, MaskSettings(erode=-erode, feather=0.0)) > 0.5).astype(np.uint8)
        assert_grown_by(dilated, hull, radius)


@pytest.mark.parametrize("margin_px", [None, 1])    # the default 0.06 x inter-ocular distance, and 1 px
def test_skin_is_the_jaw_and_brow_hull_without_the_grown_features(margin_px):
    """The documented definition written out: hull of points 0-26, minus the brows (17-21, 22-26),
    eyes and outer lips, each grown by features_margin x the inter-ocular distance."""
    face = synthetic_face(0.0)
    eye_distance = np.linalg.norm(face[36:42].mean(axis=0) - face[42:48].mean(axis=0))
    margin = 0.06 if margin_px is None else margin_px / eye_distance
    skin = skin_mask(face, SIZE, features_margin=margin)
    assert skin.dtype == np.float32 and set(np.unique(skin)) == {0.0, 1.0}

    def hull_mask(points) -> np.ndarray:
        mask = np.zeros((SIZE, SIZE), np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points * 8).astype(np.int32)), 1, cv2.LINE_8, 3)
        return mask

    features = np.zeros((SIZE, SIZE), np.uint8)
    for part in (slice(17, 22), slice(22, 27), slice(36, 42), slice(42, 48), slice(48, 60)):
        features |= hull_mask(face[part])
    radius = int(round(margin * eye_distance))
    assert margin_px is None or radius == margin_px
    grown = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    expected = hull_mask(face[0:27]) & (grown == 0)
    np.testing.assert_array_equal(skin, expected.astype(np.float32))


def face_outline(face: np.ndarray) -> np.ndarray:
    """The convex hull of the face and forehead points, int32 (n, 1, 2) crop px."""
    return cv2.convexHull(np.round(face_hull_points(face)).astype(np.int32))


def anti_aliased_hull(face: np.ndarray) -> np.ndarray:
    """uint8 {0..255}: the face outline filled anti-aliased, neither shrunk nor softened."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(mask, face_outline(face), 255, lineType=cv2.LINE_AA)
    return mask


@pytest.mark.parametrize("feather_px", [0, 1, 4, 20])
def test_the_feathered_edge_lies_half_a_feather_inside_the_hull(feather_px):
    """The soft edge stays inside the hull: its half level encloses the hull shrunk by a disc of
    half the feather (at least 1 px once there is a feather; none without one), and the face's
    interior is exactly 1."""
    face = synthetic_face(0.0)
    soft = face_mask(face, SIZE, MaskSettings(erode=0.0, feather=feather_px / SIZE))
    assert soft.max() == 1.0 and soft.min() == 0.0
    half = max(1, feather_px // 2) if feather_px else 0
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * half + 1, 2 * half + 1))
    shrunk = cv2.erode((anti_aliased_hull(face) > 127).astype(np.uint8), disc)
    one_px_ring = cv2.arcLength(face_outline(face), True)     # the area of a 1 px wide ring at the edge
    assert abs(int((soft > 0.5).sum()) - int(shrunk.sum())) < 0.3 * one_px_ring


@pytest.mark.parametrize("feather_px", [10, 20])
def test_the_soft_edge_is_a_share_of_the_feather_wide(feather_px):
    """From 10 % to 90 % the edge spans 0.5-0.8 x feather px (a Gaussian of a 2 feather + 1 px kernel)."""
    face = synthetic_face(0.0)
    soft = face_mask(face, SIZE, MaskSettings(erode=0.0, feather=feather_px / SIZE))
    width = ((soft > 0.1).sum() - (soft > 0.9).sum()) / cv2.arcLength(face_outline(face), True)
    assert 0.5 * feather_px < width < 0.8 * feather_px, width


def test_a_1_px_feather_still_softens_the_edge():
    face = synthetic_face(0.0)
    partial = lambda mask: int(((mask > 0.02) & (mask < 0.98)).sum())
    hard = face_mask(face, SIZE, MaskSettings(erode=0.0, feather=0.0))
    slight = face_mask(face, SIZE, MaskSettings(erode=0.0, feather=1.0 / SIZE))
    assert partial(slight) > 1.5 * partial(hard)
    np.testing.assert_array_equal(hard, anti_aliased_hull(face).astype(np.float32) / 255.0)


def with_eyes(face: np.ndarray, left: float, right: float) -> np.ndarray:
    """``face`` with each eye's lids (37, 38 over 41, 40 and 43, 44 over 47, 46) set so that its
    lid gap over its width (the corners 36-39, 42-45) is ``left`` / ``right``."""
    face = face.copy()
    for ratio, (first, second), lids in ((left, (36, 39), ((37, 41), (38, 40))), (right, (42, 45), ((43, 47), (44, 46)))):
        corner, other = face[first], face[second]
        width = np.linalg.norm(other - corner)
        along = (other - corner) / width
        normal = np.array([along[1], -along[0]])                      # upwards in the image
        for share, (upper, lower) in zip((1 / 3, 2 / 3), lids):
            point = corner + share * (other - corner)
            face[upper] = point + normal * ratio * width / 2
            face[lower] = point - normal * ratio * width / 2
    return face


def test_the_eye_ratios_are_each_eyes_lid_gap_over_its_width():
    face = with_eyes(synthetic_face(), 0.3, 0.1)
    assert eye_opening_ratios(face) == pytest.approx((0.3, 0.1), abs=1e-9)
    face[38] += (0, -4)                                     # one pair of the left eye further apart
    width = np.linalg.norm(face[39] - face[36])
    gaps = np.linalg.norm(face[37] - face[41]), np.linalg.norm(face[38] - face[40])
    assert gaps[1] > gaps[0] + 3
    assert eye_opening_ratios(face)[0] == pytest.approx(np.mean(gaps) / width, abs=1e-9)
    face[39] = face[36]
    assert eye_opening_ratios(face)[0] == 0.0


def _eye_centres(face: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(np.round((face[a] + face[b]) / 2).astype(int)) for a, b in ((36, 39), (42, 45))]


def test_closed_eyes_are_kept_and_open_eyes_are_not():
    face = synthetic_face()
    for ratio in (0.3, 0.2, EYE_CLOSING_RATIO + 1e-6):
        mask = closed_eyes_mask(with_eyes(face, ratio, ratio), SIZE)
        assert mask.shape == (SIZE, SIZE) and mask.dtype == np.float32 and not mask.any(), ratio
    closed = with_eyes(face, 0.05, EYE_CLOSED_RATIO)
    mask = closed_eyes_mask(closed, SIZE)
    for x, y in _eye_centres(closed):
        assert mask[y, x] > 0.99
    width = np.linalg.norm(closed[39] - closed[36])
    # The whole place of an open eye is covered: the lids of an eye open to 0.35 of its width.
    for point in with_eyes(face, 0.35, 0.35)[36:48]:
        assert mask[int(round(point[1])), int(round(point[0]))] > 0.95
    for point, most in ((30, 0.0), (8, 0.0), (62, 0.0), (17, 0.1), (26, 0.1)):   # nose tip, chin, mouth, brow ends
        x, y = np.round(closed[point]).astype(int)
        assert mask[y, x] <= most, point
    assert width > 10
    # Half-way between the two ratios: smoothstep(0.5) = 0.5, on that eye only (a wink).
    middle = (EYE_CLOSING_RATIO + EYE_CLOSED_RATIO) / 2
    wink = closed_eyes_mask(with_eyes(face, middle, 0.3), SIZE)
    (lx, ly), (rx, ry) = _eye_centres(face)
    assert wink[ly, lx] == pytest.approx(0.5, abs=0.01) and wink[ry, rx] == 0.0
    # Feathered: a soft edge, not a hard one.
    assert ((mask > 0.05) & (mask < 0.95)).sum() > 50


def _rotated(face: np.ndarray, degrees: float) -> np.ndarray:
    """``face`` turned by ``degrees`` about the crop's centre."""
    matrix = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), degrees, 1.0)
    return face @ matrix[:, :2].T + matrix[:, 2]


@pytest.mark.parametrize("degrees", [0.0, 90.0, -30.0])
def test_the_eye_region_lies_along_the_eye_and_is_feathered_outwards(degrees):
    """Per eye an ellipse 1.4 x 0.8 eye widths on the line through the corners, whole (weight 1)
    inside, fading outwards over a Gaussian of 0.15 eye widths: half-way out along the eye's line
    (0.9 widths from its centre) and across it (0.6 widths) it is partly kept; with the face turned
    the ellipse turns with it. Either eye alone is kept when only it is closed."""
    face = _rotated(with_eyes(synthetic_face(), 0.05, 0.05), degrees)
    mask = closed_eyes_mask(face, SIZE)
    assert mask.max() == 1.0
    for first, second, outwards in ((36, 39, -1), (42, 45, 1)):   # outer corner 36 / 45: away from the nose
        centre = (face[first] + face[second]) / 2
        width = np.linalg.norm(face[second] - face[first])
        along = (face[second] - face[first]) / width
        across = np.array([along[1], -along[0]])

        def at(offset):
            x, y = np.round(centre + offset * width).astype(int)
            return mask[y, x]

        for sign in (1, -1):
            assert at(sign * 0.6 * along) > 0.97 and at(sign * 0.3 * across) > 0.97
            assert 0.2 < at(sign * 0.9 * along) < 0.95, at(sign * 0.9 * along)
            assert 0.2 < at(sign * 0.6 * across) < 0.95, at(sign * 0.6 * across)
            assert at(sign * 1.0 * across) < 0.05
        assert at(outwards * 1.4 * along) < 0.05           # (inwards lies the other eye's region)
    # one eye closed, the other open: that eye only, whichever it is
    for left, right in ((0.05, 0.3), (0.3, 0.05)):
        face = with_eyes(synthetic_face(), left, right)
        mask = closed_eyes_mask(face, SIZE)
        (lx, ly), (rx, ry) = _eye_centres(face)
        assert (mask[ly, lx], mask[ry, rx]) == ((1.0, 0.0) if left < right else (0.0, 1.0))


def test_a_blink_read_unevenly_closes_both_eyes_and_a_wink_one():
    """v23 frames 3-5 (head turned a little): both eyes closed, read 0.158 and 0.134. Paired, both
    are kept whole; eyes EYE_WINK_GAP or more apart are a wink, each on its own; in between the
    more open eye moves part of the way to the other."""
    face = with_eyes(synthetic_face(), 0.158, 0.134)
    assert paired_eye_ratios(face) == pytest.approx((0.134, 0.134), abs=1e-9)
    mask = closed_eyes_mask(face, SIZE)
    (lx, ly), (rx, ry) = _eye_centres(face)
    assert mask[ly, lx] == mask[ry, rx] == 1.0
    wink = with_eyes(synthetic_face(), 0.1 + EYE_WINK_GAP, 0.1)
    assert paired_eye_ratios(wink) == pytest.approx(eye_opening_ratios(wink), abs=1e-9)
    middle = (EYE_PAIR_GAP + EYE_WINK_GAP) / 2                       # smoothstep(0.5): half-way
    between = with_eyes(synthetic_face(), 0.1, 0.1 + middle)
    assert paired_eye_ratios(between) == pytest.approx((0.1, 0.1 + middle / 2), abs=1e-6)
