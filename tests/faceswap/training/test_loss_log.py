"""loss.csv and loss.png with the adversarial parts' losses (faceswap/training/loss_log.py)."""

import csv

import pytest

from faceswap.training.loss_log import HEADER, LossLog


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_run_without_adversarial_parts_keeps_the_four_columns(tmp_path):
    log = LossLog(tmp_path / "loss.csv")
    log.add(1, 0.5, 0.4, 1.0)
    log.add(2, 0.45, 0.35, 2.0, {})
    log.save()
    assert (tmp_path / "loss.csv").read_text().splitlines()[0] == ",".join(HEADER)


def test_adversarial_losses_round_trip_with_empty_cells_where_a_part_was_off(tmp_path):
    path = tmp_path / "loss.csv"
    log = LossLog(path)
    log.add(1, 0.5, 0.4, 1.0, {"gan_discriminator": 0.69, "gan_generator": 0.71})
    log.add(2, 0.5, 0.4, 2.0, {"gan_discriminator": 0.66, "gan_generator": 0.75,
                               "true_face_discriminator": 0.05, "true_face_encoder": 6.2})
    log.add(3, 0.5, 0.4, 3.0)
    log.save()
    rows = _rows(path)
    assert list(rows[0]) == [*HEADER, "gan_discriminator", "gan_generator", "true_face_discriminator",
                             "true_face_encoder"]
    assert rows[0]["true_face_encoder"] == "" and float(rows[1]["true_face_encoder"]) == pytest.approx(6.2)
    assert rows[2]["gan_discriminator"] == ""

    resumed = LossLog(path, keep_until=2)      # a resume from iteration 2 drops row 3, keeps the cells
    assert [r[0] for r in resumed.rows] == [1, 2]
    assert resumed.adversarial == {1: {"gan_discriminator": 0.69, "gan_generator": 0.71},
                                   2: {"gan_discriminator": 0.66, "gan_generator": 0.75,
                                       "true_face_discriminator": 0.05, "true_face_encoder": 6.2}}
    resumed.plot(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_columns_only_for_the_parts_of_the_kept_rows(tmp_path):
    path = tmp_path / "loss.csv"
    log = LossLog(path)
    log.add(1, 0.5, 0.4, 1.0, {"true_face_discriminator": 0.3, "true_face_encoder": 2.0})
    log.add(2, 0.5, 0.4, 2.0, {"gan_discriminator": 0.6, "gan_generator": 0.8})
    log.save()
    LossLog(path, keep_until=1).save()          # the GAN's row went with the resume: so does its column
    assert list(_rows(path)[0]) == [*HEADER, "true_face_discriminator", "true_face_encoder"]


def test_an_unknown_column_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not adversarial loss columns"):
        LossLog(tmp_path / "loss.csv").add(1, 0.5, 0.4, 1.0, {"gan": 0.7})
