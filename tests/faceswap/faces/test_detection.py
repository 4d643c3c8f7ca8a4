"""Detection on the real sample data: faces in the human clips and stills, none in the negatives."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.faces.detection import FaceTracker
from faceswap.images import read_image
from tests.conftest import HUMAN_STILLS, NO_FACE_STILLS


@pytest.mark.parametrize("name", HUMAN_STILLS + ["s6", "s7"])
def test_faces_found_in_stills_with_faces(face_detector, still_path, name):
    faces = face_detector.detect(read_image(still_path(name)))
    assert len(faces) >= 1
    face = faces[0]
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
    assert face.mesh.shape == (468, 2)
    assert 0.5 <= face.score <= 1.0
    x0, y0, x1, y1 = face.box
    inside = (face.landmarks[:, 0] >= x0 - 1) & (face.landmarks[:, 0] <= x1 + 1)
    assert inside.all()


@pytest.mark.parametrize("name", NO_FACE_STILLS + ["s25"])
def test_no_face_in_pictures_without_human_faces(face_detector, still_path, name):
    # s25 (a dog) fools the face mesh alone; a confirming detection is required, so it is rejected.
    assert face_detector.detect(read_image(still_path(name))) == []


@pytest.mark.parametrize("clip", ["d0", "d3", "d6", "d9", "d11", "d12", "d13", "d18", "d20"])
def test_faces_found_in_every_sampled_clip_frame(face_detector, clip_frames, clip):
    frames = clip_frames(clip, count=4, step=25)
    assert all(len(face_detector.detect(frame)) >= 1 for frame in frames)


def test_landmark_layout_is_anatomical(face_detector, still_path):
    face = face_detector.detect(read_image(still_path("s0")))[0]
    points = face.landmarks
    assert points[36, 0] < points[45, 0]          # eye on the image's left is left of the other eye
    assert points[8, 1] > points[57, 1] > points[33, 1] > points[27, 1]  # chin below mouth below nose below bridge
    assert points[19, 1] < points[37, 1]          # eyebrow above eye


def test_largest_face_first(face_detector, still_path):
    import cv2

    big = read_image(still_path("s4"))
    small = cv2.resize(read_image(still_path("s0")), None, fx=0.6, fy=0.6)
    height, width = big.shape[:2]
    canvas = np.full((height, width + small.shape[1], 3), 128, np.uint8)
    canvas[:, :width] = big
    canvas[: small.shape[0], width:] = small
    faces = face_detector.detect(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].box[0] < width <= faces[1].box[0]


def test_tracker_follows_a_clip_and_agrees_with_detector(face_detector, clip_frames):
    tracker = FaceTracker()
    try:
        frames = clip_frames("d9", count=20)
        tracked = [tracker.detect(frame) for frame in frames]
        assert all(len(faces) == 1 for faces in tracked)
        reference = face_detector.detect(frames[-1])[0].landmarks
        error = np.abs(tracked[-1][0].landmarks - reference).mean()
        assert error < 4.0
    finally:
        tracker.close()


def test_trackers_share_the_detectors_graphs_and_hold_a_few_numbers(face_detector, clip_frames):
    """Sixteen streams' trackers on one shared detector: each follows its face, none builds graphs."""
    frames = clip_frames("d9", count=3)
    trackers = [FaceTracker(detector=face_detector) for _ in range(16)]
    for frame in frames:
        for tracker in trackers:
            assert len(tracker.detect(frame)) == 1
    state = trackers[0].__dict__
    assert state["_detector"] is face_detector and not state["_owns_detector"]
    assert all(track.mesh.nbytes <= 468 * 2 * 4 for track in state["_tracks"])
    for tracker in trackers:
        tracker.close()
    assert len(face_detector.detect(frames[0])) == 1   # closing a tracker leaves the shared graphs alone


def test_tracker_detects_every_n_frames_and_follows_in_between(face_detector, clip_frames, monkeypatch):
    tracker = FaceTracker(detector=face_detector)
    calls = []
    original = face_detector._detection.boxes
    monkeypatch.setattr(face_detector._detection, "boxes", lambda rgb: calls.append(1) or original(rgb))
    for frame in clip_frames("d9", count=2 * tracker.settings.confirm_every):
        assert len(tracker.detect(frame)) == 1
    assert len(calls) == 2


def test_tracker_picks_up_a_new_face_after_a_cut(face_detector, clip_frames):
    """A stream that cuts to another person: the old track is lost, the new face is found at once."""
    tracker = FaceTracker(detector=face_detector)
    for frame in clip_frames("d9", count=5):
        tracker.detect(frame)
    other = clip_frames("d6", count=2)
    faces = [tracker.detect(frame) for frame in other]
    reference = face_detector.detect(other[-1])[0].landmarks
    assert len(faces[-1]) == 1 and np.abs(faces[-1][0].landmarks - reference).mean() < 4.0


def test_the_detector_loads_without_tensorflow():
    """mediapipe would import TensorFlow (~600 MB resident) for a docs decorator; a serving worker
    must not pay that, and TensorFlow stays importable for those who need it."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    probe = ("import sys, importlib.util\n"
             "from faceswap.faces.detection import FaceDetector, FaceTracker\n"
             "detector = FaceDetector(); FaceTracker(detector=detector)\n"
             "print('tensorflow' in sys.modules, 'mediapipe' in sys.modules, sys.modules.get('tensorflow', 0) is None)\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            check=True)
    assert result.stdout.split()[-3:] == ["False", "True", "False"]


def test_tracker_rejects_frames_without_faces(still_path):
    tracker = FaceTracker()
    try:
        for name in NO_FACE_STILLS + ["s25"]:
            assert tracker.detect(read_image(still_path(name))) == []
    finally:
        tracker.close()


def test_detector_refuses_non_images(face_detector):
    with pytest.raises(ValueError):
        face_detector.detect(np.zeros((10, 10), np.uint8))


# ------------------------------------------------------------------ small faces in big frames

@pytest.mark.parametrize("name, width", [("small_face_1080p_80px.jpg", 80), ("small_face_1080p_48px.jpg", 48)])
def test_small_faces_in_a_full_hd_frame_are_found(face_detector, shared_data, name, width):
    frame = read_image(shared_data / "cases" / name)
    assert frame.shape[:2] == (1080, 1920)
    faces = face_detector.detect(frame)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 0.7 * width < x1 - x0 < 1.4 * width
    points = faces[0].landmarks
    assert points[36, 0] < points[45, 0] and points[27, 1] < points[33, 1] < points[57, 1] < points[8, 1]


def test_the_whole_frame_pass_alone_misses_the_48_px_face(shared_data):
    from faceswap.faces.detection import DetectionSettings, FaceDetector

    with FaceDetector(DetectionSettings(small_faces=False)) as detector:
        assert detector.detect(read_image(shared_data / "cases" / "small_face_1080p_48px.jpg")) == []


def test_tiles_cover_large_frames_only_and_overlap_by_the_largest_missed_face(face_detector):
    assert face_detector.tiles(640, 480) == [] and face_detector.tiles(960, 540) == []
    for width, height in ((1920, 1080), (3840, 2160), (1080, 1920)):
        tiles = face_detector.tiles(width, height)
        covered = np.zeros((height, width), bool)
        for x, y, side in tiles:
            assert side == 640 and x + side <= width and y + side <= height
            covered[y:y + side, x:x + side] = True
        assert covered.all()
        xs = sorted({x for x, _, _ in tiles})
        overlaps = [a + 640 - b for a, b in zip(xs, xs[1:])]  # between neighbouring tiles
        assert min(overlaps) >= 0.05 * max(width, height)
    assert len(face_detector.tiles(1920, 1080)) == 8 and len(face_detector.tiles(3840, 2160)) == 45


@pytest.mark.parametrize("name", ["s23", "s25"])
def test_no_face_appears_in_large_frames_without_faces(face_detector, still_path, name):
    import cv2

    frame = cv2.resize(read_image(still_path(name)), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    assert face_detector.detect(frame) == []


def test_no_face_reason_says_what_the_frame_shows():
    from faceswap.faces.detection import no_face_reason

    rng = np.random.default_rng(1)
    textured = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)
    assert no_face_reason(textured) == "no face of at least 48 px found"
    assert no_face_reason(textured // 10) .startswith("the frame is very dark (mean brightness")
    assert no_face_reason(np.full((480, 640, 3), 255, np.uint8)) == "the frame is overexposed (100% of it is white)"
    assert no_face_reason(np.full((480, 640, 3), 128, np.uint8)).startswith("the frame is very blurred or flat")
    assert no_face_reason(textured[:40, :40]) == "the frame (40x40) is smaller than the smallest face looked for (48 px)"


def test_a_followed_small_face_is_looked_for_in_one_tile_next_frame(shared_data):
    import cv2

    from faceswap.faces.detection import FaceDetector, FaceFollower

    frame = read_image(shared_data / "cases" / "small_face_1080p_48px.jpg")
    moved = cv2.warpAffine(frame, np.float32([[1, 0, 30], [0, 1, 12]]), (1920, 1080), borderMode=cv2.BORDER_REFLECT)
    with FaceDetector() as detector:
        follower = FaceFollower(detector)
        first = follower.detect(frame)
        assert len(first) == 1 and detector.tiles_searched == 8
        second = follower.detect(moved)
        assert len(second) == 1 and detector.tiles_searched == 9  # one tile around the previous face
        assert second[0].box[0] - first[0].box[0] == pytest.approx(30, abs=6)
        assert follower.detect(np.full_like(frame, 128)) == [] and detector.tiles_searched == 18  # lost: all again


def test_a_48_px_face_is_found_in_a_4k_frame(face_detector, shared_data):
    import cv2

    case = read_image(shared_data / "cases" / "small_face_1080p_48px.jpg")
    frame = cv2.copyMakeBorder(case, 700, 380, 1500, 420, cv2.BORDER_REPLICATE)  # 3840x2160, face near the middle
    assert frame.shape[:2] == (2160, 3840)
    faces = face_detector.detect(frame)
    assert len(faces) == 1
    centre = (faces[0].box[:2] + faces[0].box[2:]) / 2
    assert abs(centre[0] - (1500 + 848)) < 24 and abs(centre[1] - (700 + 267)) < 24
