"""Face packs (training/face_pack.py): a side's working crops as JPEG in one file come back with the
same landmarks, matrices, identities and names and nearly the same pixels; a pack made for another
model layout, a corrupt pack and a file that is no pack are refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.errors import InputError
from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT, FaceLayout
from faceswap.training.face_pack import load_side, read_face_pack, write_face_pack


def test_a_pack_round_trips_a_face_set(face_set_b, tmp_path):
    path = write_face_pack(face_set_b, tmp_path / "faces_b.npz", quality=95)
    packed = read_face_pack(path, CLASSIC_MODEL_LAYOUT)
    assert len(packed) == len(face_set_b) and packed.side == "b"
    np.testing.assert_array_equal(packed.landmarks, face_set_b.landmarks)
    np.testing.assert_array_equal(packed.to_model, face_set_b.to_model)
    assert packed.identities == face_set_b.identities and packed.names == face_set_b.names
    assert packed.sources == face_set_b.sources
    for original, decoded in zip(face_set_b.images, packed.images):
        assert decoded.shape == original.shape and decoded.dtype == np.uint8
        assert np.abs(decoded.astype(int) - original.astype(int)).mean() < 2.0  # JPEG q95: about 1 grey level
    # JPEG makes the pack much smaller than the raw working crops
    assert path.stat().st_size < 0.2 * sum(image.nbytes for image in face_set_b.images)


def test_load_side_mixes_packs_and_folders(face_set_b, face_folders, tmp_path):
    pack = write_face_pack(face_set_b, tmp_path / "b.npz")
    side = load_side("a", [face_folders[0], pack], CLASSIC_MODEL_LAYOUT, progress=False)
    assert len(side) > len(face_set_b) and side.side == "a"
    assert side.names[:len(face_set_b)] == face_set_b.names  # packs first
    assert side.landmarks.shape == (len(side), 68, 2) and side.to_model.shape == (len(side), 2, 3)


def test_a_pack_for_another_layout_or_a_broken_file_is_refused(face_set_b, tmp_path):
    path = write_face_pack(face_set_b, tmp_path / "faces_b.npz")
    with pytest.raises(InputError, match="packed for 64-px faces .* this model wants 96 px"):
        read_face_pack(path, FaceLayout(96, 0.1))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputError, match="not a readable face pack"):
        read_face_pack(broken, CLASSIC_MODEL_LAYOUT)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(InputError, match="not a face pack"):
        read_face_pack(other, CLASSIC_MODEL_LAYOUT)
