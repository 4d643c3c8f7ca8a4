"""Loading face folders and making deterministic, prefetched batches."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT, EXTRACT_LAYOUT, relayout_matrix, transform_points
from faceswap.images import read_image
from faceswap.training.augmentation import AugmentSettings
from faceswap.training.dataset import BatchMaker, BatchPrefetcher, load_face_set


def test_faces_load_as_small_working_crops_aligned_like_the_model_crop(face_folders, face_set_b):
    index_file = json.loads((face_folders[1] / "faces.json").read_text())
    assert len(face_set_b) == len(index_file["faces"]) >= 8
    assert face_set_b.images[0].shape == (154, 154, 3) and face_set_b.images[0].dtype == np.uint8
    relayout = relayout_matrix(EXTRACT_LAYOUT, CLASSIC_MODEL_LAYOUT)
    for index, name in enumerate(sorted(index_file["faces"])):
        # landmarks: working px -> model px equals extract px -> model px by the alignment maths
        expected = transform_points(np.array(index_file["faces"][name]["landmarks"]), relayout)
        np.testing.assert_allclose(transform_points(face_set_b.landmarks[index], face_set_b.to_model[index]),
                                   expected, atol=0.01)
        # pixels: the model crop matches cutting the 256-px extract directly (up to resampling)
        direct = cv2.warpAffine(read_image(face_folders[1] / name), relayout, (64, 64), flags=cv2.INTER_AREA)
        assert np.abs(face_set_b.model_crop(index) - direct.astype(np.float32) / 255).mean() < 0.02
    assert face_set_b.describe() == {"folders": [str(face_folders[1])], "faces": len(face_set_b),
                                     "identities": 1, "sources": {"d12.mp4": len(face_set_b)}}
    assert set(face_set_b.identities) == {"d12"}


def test_several_folders_per_side_and_max_faces(face_folders):
    both = load_face_set("a", list(face_folders), CLASSIC_MODEL_LAYOUT, progress=False)
    assert set(both.sources) == {"d9.mp4", "d12.mp4"}
    few = load_face_set("a", list(face_folders), CLASSIC_MODEL_LAYOUT, progress=False, max_faces=2)
    assert len(few) == 4


def test_empty_missing_and_unindexed_folders_are_named(tmp_path, face_folders):
    empty = tmp_path / "empty_faces"
    empty.mkdir()
    with pytest.raises(InputError, match=f"{empty}: has no faces.json"):
        load_face_set("a", [empty], CLASSIC_MODEL_LAYOUT, progress=False)
    (empty / "faces.json").write_text(json.dumps({"layout": EXTRACT_LAYOUT.to_dict(), "faces": {}}))
    with pytest.raises(InputError, match=f"{empty}: the face folder is empty"):
        load_face_set("a", [empty], CLASSIC_MODEL_LAYOUT, progress=False)
    with pytest.raises(InputError, match="no such face folder"):
        load_face_set("b", [tmp_path / "missing"], CLASSIC_MODEL_LAYOUT, progress=False)
    with pytest.raises(InputError, match="side B: no face folder"):
        load_face_set("b", [], CLASSIC_MODEL_LAYOUT, progress=False)
    broken = tmp_path / "broken"
    shutil.copytree(face_folders[0], broken)
    victim = sorted(broken.glob("*.png"))[0]
    victim.write_bytes(b"not a png")
    with pytest.raises(InputError, match=victim.name):
        load_face_set("a", [broken], CLASSIC_MODEL_LAYOUT, progress=False)


def test_batches_are_a_function_of_seed_and_iteration(face_set_b):
    maker = BatchMaker(face_set_b, 4, seed=7, augment=AugmentSettings())
    first, again = maker.batch(3), BatchMaker(face_set_b, 4, seed=7, augment=AugmentSettings()).batch(3)
    for name in ("warped", "target", "mask"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(maker.batch(4).warped, first.warped)
    assert not np.array_equal(BatchMaker(face_set_b, 4, seed=8, augment=AugmentSettings()).batch(3).warped,
                              first.warped)
    assert first.warped.shape == (4, 64, 64, 3) and first.mask.shape == (4, 64, 64)
    assert first.mask.dtype == np.float32 and 0.0 <= first.mask.min() and first.mask.max() <= 1.0
    assert first.mask.mean() > 0.3  # the face covers much of the crop
    # each epoch visits every face exactly once
    count = len(face_set_b)
    seen = np.concatenate([maker.indices(i) for i in range(count)])  # `count` batches of 4 = 4 epochs
    for epoch in range(4):
        assert sorted(seen[epoch * count:(epoch + 1) * count]) == list(range(count))


def test_prefetcher_gives_the_same_batches_as_the_training_loop_would(face_set_b):
    makers = (BatchMaker(face_set_b, 2, 0, AugmentSettings()), BatchMaker(face_set_b, 2, 0, AugmentSettings()))
    with BatchPrefetcher(makers, start=5, stop=9, depth=2) as ahead, BatchPrefetcher(makers, 5, 9, depth=0) as inline:
        for _ in range(4):
            for threaded, direct in zip(ahead.next(), inline.next()):
                np.testing.assert_array_equal(threaded.warped, direct.warped)
        with pytest.raises(StopIteration):
            ahead.next()


def test_prefetcher_hands_errors_to_the_consumer(face_set_b):
    class Broken(BatchMaker):
        def batch(self, iteration):
            raise InputError(f"broken at {iteration}")

    broken = Broken(face_set_b, 2, 0, AugmentSettings())
    with BatchPrefetcher((broken, broken), 0, 10, depth=2) as batches:
        with pytest.raises(InputError, match="broken at 0"):
            batches.next()
