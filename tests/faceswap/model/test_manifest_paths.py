"""A model directory's manifest can only name files inside the directory (issue 12, item 13):
``files[].path`` and the TFLite file names are confined before anything is stat'ed or hashed."""

from __future__ import annotations

import json
import shutil

import pytest

from faceswap.errors import ModelDirectoryError
from faceswap.model.runtime import load_swap_model


@pytest.fixture
def model_copy(test_model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(test_model_dir, copy)
    return copy


def rewrite_first_file(model_dir, new_path: str) -> None:
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][0]["path"] = new_path
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("escape", ["../secret.bin", "/etc/hostname", "saved_model/../../secret.bin",
                                    "C:\\secret.bin", "./../secret.bin", ""])
def test_manifest_paths_outside_the_directory_are_refused(model_copy, escape):
    (model_copy.parent / "secret.bin").write_bytes(b"not a model file")
    rewrite_first_file(model_copy, escape)
    with pytest.raises(ModelDirectoryError, match="is not a relative path inside the model directory"):
        load_swap_model(model_copy)


def test_a_symbolic_link_out_of_the_directory_is_refused(model_copy, tmp_path):
    outside = tmp_path / "outside.bin"
    manifest = json.loads((model_copy / "manifest.json").read_text())
    listed = model_copy / manifest["files"][0]["path"]
    shutil.copyfile(listed, outside)           # same size and checksum: only the location is wrong
    listed.unlink()
    listed.symlink_to(outside)
    with pytest.raises(ModelDirectoryError, match="leads outside"):
        load_swap_model(model_copy)


def test_the_real_manifest_still_loads(model_copy):
    assert load_swap_model(model_copy).input_size > 0
