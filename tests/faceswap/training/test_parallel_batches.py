"""Augmentation in worker processes (training/parallel_batches.py) yields exactly the batches of
BatchMaker.batch, in order, from any start iteration; a worker's error reaches the trainer; the
end of the range is a StopIteration; closing removes the scratch files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.training.augmentation import AugmentSettings
from faceswap.training.dataset import BatchMaker
from faceswap.training.parallel_batches import ParallelBatches


def _makers(face_set, batch_size=4, balance=False):
    augment = AugmentSettings(color_augmentation=True)
    return (BatchMaker(face_set, batch_size, 7, augment, balance=balance),
            BatchMaker(face_set, batch_size, 7, augment))


def test_workers_give_the_batches_of_the_training_loop(face_set_b):
    makers = _makers(face_set_b, balance=True)
    directory = None
    with ParallelBatches(makers, start=5, stop=13, workers=2, depth=3) as batches:
        directory = batches._directory
        for iteration in range(5, 13):
            got = batches.next()
            for maker, batch in zip(makers, got):
                expected = maker.batch(iteration)
                for name in ("warped", "target", "mask", "eyes_mouth"):
                    np.testing.assert_array_equal(getattr(batch, name), getattr(expected, name),
                                                  err_msg=f"{iteration} {name}")
        with pytest.raises(StopIteration):
            batches.next()
    assert not directory.exists()


def test_a_worker_error_reaches_the_trainer(face_set_b):
    makers = _makers(face_set_b)
    makers[1].face_set = type(face_set_b)(side="b", folders=[], model_layout=face_set_b.model_layout,
                                          images=face_set_b.images[:2], landmarks=face_set_b.landmarks[:2],
                                          to_model=face_set_b.to_model[:2, :, :2], identities=["x", "x"])
    with ParallelBatches(makers, start=0, stop=4, workers=1) as batches:
        with pytest.raises(cv2.error, match="matM.cols == 3"):  # a (2, 2) matrix where a (2, 3) one belongs
            batches.next()


def test_sides_must_share_batch_and_crop_size(face_set_b):
    makers = (BatchMaker(face_set_b, 4, 0, AugmentSettings()), BatchMaker(face_set_b, 8, 0, AugmentSettings()))
    with pytest.raises(ValueError, match="same batch size"):
        ParallelBatches(makers, 0, 10, workers=1)
