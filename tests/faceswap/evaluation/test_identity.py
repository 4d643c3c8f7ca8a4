"""dlib's face descriptor on real faces: one face against itself, one person, two people."""

from __future__ import annotations

import pytest

from faceswap.errors import InputError
from faceswap.evaluation.identity import SAME_PERSON_DISTANCE, descriptor_distance, load_target_identity
from faceswap.images import read_image


def test_a_still_face_against_itself_is_at_distance_zero(recogniser, face_detector, still_path):
    image = read_image(still_path("s0"))
    box = face_detector.detect(image)[0].box
    first, second = recogniser.descriptor(image, box), recogniser.descriptor(image.copy(), box)
    assert first.shape == (128,)
    assert descriptor_distance(first, second) < 1e-6
    target = load_target_identity(still_path("s0"), recogniser, face_detector)
    assert target.count == 1 and target.spread < 1e-6
    assert descriptor_distance(first, target.mean) < 1e-6


def test_the_targets_own_frames_lie_close_and_other_people_far(d6_target, recogniser, face_detector, clip_frames):
    assert d6_target.count == 8 and d6_target.first_frame == 900
    assert 0.1 < d6_target.spread < 0.4  # dlib: the same person's frames lie ~0.3 from their mean
    own = clip_frames("d6", count=1, start=100)[0]
    other = clip_frames("d18", count=1)[0]
    own_distance = descriptor_distance(recogniser.descriptor(own, face_detector.detect(own)[0].box), d6_target.mean)
    other_distance = descriptor_distance(recogniser.descriptor(other, face_detector.detect(other)[0].box),
                                         d6_target.mean)
    assert own_distance < SAME_PERSON_DISTANCE < other_distance


def test_a_target_without_a_face_gets_one_line_naming_it(recogniser, face_detector, still_path):
    with pytest.raises(InputError, match=r"s33\.jpg: no usable face of the target person"):
        load_target_identity(still_path("s33"), recogniser, face_detector)


def test_an_unreadable_target_clip_is_named(recogniser, face_detector, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    with pytest.raises(InputError, match=r"broken\.mp4"):
        load_target_identity(broken, recogniser, face_detector)


def test_a_folder_of_pictures_is_a_target(recogniser, face_detector, still_path, tmp_path):
    for name in ("s0", "s33"):  # the picture without a face is skipped
        (tmp_path / f"{name}.jpg").write_bytes(still_path(name).read_bytes())
    target = load_target_identity(tmp_path, recogniser, face_detector)
    assert target.count == 1


def test_the_recogniser_is_imported_only_when_made():
    """dlib belongs to the benchmark environment: importing the benchmark (as any tier could) must not load it."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    code = ("import sys; import faceswap.evaluation.benchmark, prediction_routine.predictor; "
            "assert 'dlib' not in sys.modules and 'face_recognition_models' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=120)
