"""Export of a trained checkpoint: files, manifest, and TFLite/SavedModel parity with Keras on real faces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceswap.cli import main
from faceswap.errors import CheckpointError, FaceswapError
from faceswap.export.exporter import ExportSettings, export_model, file_sha256
from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT
from faceswap.model.architecture import build_autoencoders
from faceswap.model.runtime import load_swap_model
from faceswap.model.tflite_inspect import tflite_precision
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.dataset import load_face_set

# int8 weights with float activations: a face may differ from Keras by at most this much on
# average ([0, 1] scale), no pixel by more than PIXEL_TOLERANCE.
FACE_TOLERANCE = 0.02
PIXEL_TOLERANCE = 0.2


@pytest.fixture(scope="module")
def exported(test_model_work, tmp_path_factory):
    output = tmp_path_factory.mktemp("export") / "model"
    manifest = export_model(test_model_work / "model", output)
    return output, manifest


@pytest.fixture(scope="module")
def real_faces(test_model_work):
    faces = []
    for side in ("a", "b"):
        face_set = load_face_set(side, [test_model_work / f"faces_{side}"], CLASSIC_MODEL_LAYOUT,
                                 progress=False, max_faces=4)
        faces.extend(face_set.model_crop(i) for i in range(len(face_set)))
    return np.stack(faces)


def test_export_writes_both_runtimes_and_a_complete_manifest(exported, test_model_work):
    output, manifest = exported
    names = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    assert {"manifest.json", "swap_a2b.tflite", "swap_b2a.tflite", "saved_model/saved_model.pb"} <= names
    assert json.loads((output / "manifest.json").read_text()) == manifest
    checkpoint = load_checkpoint(test_model_work / "model")
    assert manifest["config"] == "tiny" and manifest["model_config"] == checkpoint.config.to_dict()
    assert manifest["input_size"] == 64 and manifest["layout"] == {"size": 64, "padding_ratio": 0.0}
    assert manifest["iterations"] == checkpoint.iteration > 0 and manifest["training_seconds"] > 0
    assert manifest["sides"]["a"]["sources"] == {"d9.mp4": manifest["sides"]["a"]["faces"]}
    assert manifest["sides"]["b"]["sources"] == {"d12.mp4": manifest["sides"]["b"]["faces"]}
    assert manifest["directions"]["a2b"]["decoder"] == "decoder_b"
    assert manifest["created"].startswith("20")
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == names - {"manifest.json"}
    for path, entry in listed.items():
        assert entry["bytes"] == (output / path).stat().st_size
        assert entry["sha256"] == file_sha256(output / path)
    assert manifest["parity"]["faces"] >= 2
    for direction in ("a2b", "b2a"):
        assert manifest["parity"][direction]["max_face_mean_abs_diff"] < FACE_TOLERANCE


def test_tflite_and_savedmodel_match_keras_on_real_faces(exported, test_model_work, real_faces):
    output, _ = exported
    networks = build_autoencoders("tiny")
    load_checkpoint(test_model_work / "model").restore_networks(networks)
    tflite, saved = load_swap_model(output, "tflite"), load_swap_model(output, "savedmodel")
    keras_outputs = {}
    for direction in ("a2b", "b2a"):
        expected = np.asarray(networks.swap_model(direction)(real_faces))
        keras_outputs[direction] = expected
        quantised = tflite.swap(real_faces, direction)
        difference = np.abs(quantised - expected)
        assert difference.mean(axis=(1, 2, 3)).max() < FACE_TOLERANCE, direction
        assert difference.max() < PIXEL_TOLERANCE, direction
        np.testing.assert_allclose(saved.swap(real_faces, direction), expected, atol=1e-4)
    # The comparison can tell the decoders apart: a2b and b2a differ more than TFLite and Keras do.
    decoder_gap = np.abs(keras_outputs["a2b"] - keras_outputs["b2a"]).mean()
    assert decoder_gap > np.abs(tflite.swap(real_faces, "a2b") - keras_outputs["a2b"]).mean()


def test_export_command_replaces_an_older_export(test_model_work, tmp_path, capsys):
    output = tmp_path / "served"
    assert main(["--quiet", "export", "--model-dir", str(test_model_work / "model"), "--output", str(output),
                 "--parity-faces", "0"]) == 0
    assert "exported tiny model" in capsys.readouterr().out
    first = json.loads((output / "manifest.json").read_text())
    assert "parity" not in first
    (output / "stray-file").write_text("from the old export")
    assert main(["--quiet", "export", "--model-dir", str(test_model_work / "model"), "--output", str(output),
                 "--parity-faces", "0"]) == 0
    assert not (output / "stray-file").exists()
    assert load_swap_model(output).manifest["created"] >= first["created"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_tflite_only_export_is_the_small_bundled_copy_and_still_serves(test_model_work, tmp_path, real_faces):
    """`--tflite-only` (how models/default is made): no SavedModel, a manifest that lists only what is
    there and says why, the TFLite runtime serves it, and the savedmodel backend says what is missing."""
    output = tmp_path / "bundled"
    assert main(["--quiet", "export", "--model-dir", str(test_model_work / "model"), "--output", str(output),
                 "--parity-faces", "4", "--tflite-only"]) == 0
    names = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    assert names == {"manifest.json", "swap_a2b.tflite", "swap_b2a.tflite"}
    manifest = json.loads((output / "manifest.json").read_text())
    assert [entry["path"] for entry in manifest["files"]] == ["swap_a2b.tflite", "swap_b2a.tflite"]
    assert "--tflite-only" in manifest["bundled_note"] and "savedmodel" not in manifest["quantization"]
    assert manifest["parity"]["faces"] == 4 and manifest["trained_from"] == str(test_model_work / "model")
    swapped = load_swap_model(output, "tflite").swap(real_faces, "a2b")
    assert swapped.shape == real_faces.shape and 0.0 <= swapped.min() and swapped.max() <= 1.0
    with pytest.raises(FaceswapError, match="saved_model"):
        load_swap_model(output, "savedmodel")


def test_export_refuses_a_missing_checkpoint_and_a_foreign_output(test_model_work, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint.npz"):
        export_model(tmp_path, tmp_path / "out")
    foreign = tmp_path / "my-documents"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("precious")
    with pytest.raises(FaceswapError, match="not an exported model"):
        export_model(test_model_work / "model", foreign)
    assert (foreign / "thesis.txt").read_text() == "precious"



# Full-integer int8 (--quantization int8): every operator in int8 between one QUANTIZE and one
# DEQUANTIZE, so its faces differ from Keras more than the dynamic-range default does; the export
# default is still held to this on real faces (docs/performance.md measures both).
INT8_FACE_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def exported_int8(test_model_work, tmp_path_factory):
    output = tmp_path_factory.mktemp("export-int8") / "model"
    manifest = export_model(test_model_work / "model", output, ExportSettings(quantization="int8", calibration_faces=16))
    return output, manifest


def test_int8_export_is_full_integer_with_float_faces_at_its_boundary(exported_int8, exported):
    output, manifest = exported_int8
    assert manifest["tflite_quantization"] == "int8" and "full-integer" in manifest["quantization"]
    assert manifest["calibration_faces"] >= 8
    for direction in ("a2b", "b2a"):
        precision = tflite_precision(output / f"swap_{direction}.tflite")
        assert precision["full_integer"], precision["float_ops"]
        assert precision["input_dtype"] == precision["output_dtype"] == "float32"
        assert precision["op_output_dtypes"]["int8"] > 10
    default_output, default_manifest = exported
    assert default_manifest["tflite_quantization"] == "dynamic" and default_manifest["calibration_faces"] == 0
    assert not tflite_precision(default_output / "swap_a2b.tflite")["full_integer"]


def test_int8_export_matches_keras_on_real_faces(exported_int8, exported, test_model_work, real_faces):
    output, manifest = exported_int8
    networks = build_autoencoders("tiny")
    load_checkpoint(test_model_work / "model").restore_networks(networks)
    served = load_swap_model(output, "tflite")
    for direction in ("a2b", "b2a"):
        expected = np.asarray(networks.swap_model(direction)(real_faces))
        difference = np.abs(served.swap(real_faces, direction) - expected)
        assert difference.mean(axis=(1, 2, 3)).max() < INT8_FACE_TOLERANCE, direction
        assert manifest["parity"][direction]["max_face_mean_abs_diff"] < INT8_FACE_TOLERANCE
    # The quantization is real: int8 activations move the output more than int8 weights alone do.
    assert manifest["parity"]["a2b"]["mean_abs_diff"] > exported[1]["parity"]["a2b"]["mean_abs_diff"]


def _checkpoint_whose_faces_are_gone(test_model_work, tmp_path):
    """A model directory with the test model's checkpoint whose meta names face folders that do not exist."""
    checkpoint = load_checkpoint(test_model_work / "model")
    moved = tmp_path / "moved-model"
    moved.mkdir()
    meta = {**checkpoint.meta, "sides": {side: {**data, "folders": [str(tmp_path / "gone")]}
                                         for side, data in checkpoint.meta["sides"].items()}}
    np.savez(moved / "checkpoint.npz", **checkpoint.arrays,
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return moved


def test_int8_export_refuses_a_checkpoint_whose_faces_are_gone(test_model_work, tmp_path):
    moved = _checkpoint_whose_faces_are_gone(test_model_work, tmp_path)
    with pytest.raises(FaceswapError, match="needs the training faces to calibrate"):
        export_model(moved, tmp_path / "out", ExportSettings(quantization="int8", parity_faces=0))
    assert not (tmp_path / "out").exists()
    with pytest.raises(FaceswapError, match="unknown quantization"):
        export_model(test_model_work / "model", tmp_path / "out", ExportSettings(quantization="int4"))


# The code shift (--code-shift, faceswap/model/code_shift.py): baked into the a2b graphs only.
@pytest.fixture(scope="module")
def exported_shifted(test_model_work, tmp_path_factory):
    output = tmp_path_factory.mktemp("export-shift") / "model"
    manifest = export_model(test_model_work / "model", output, ExportSettings(code_shift=0.5, parity_faces=4))
    return output, manifest


def test_code_shift_export_moves_the_a2b_codes_and_says_so(exported_shifted, exported, test_model_work, real_faces):
    from faceswap.export.exporter import checkpoint_code_shift

    output, manifest = exported_shifted
    checkpoint = load_checkpoint(test_model_work / "model")
    sides = checkpoint.meta["sides"]
    assert manifest["code_shift"]["strength"] == 0.5 and manifest["code_shift"]["direction"] == "a2b"
    assert manifest["code_shift"]["faces"] == {side: sides[side]["faces"] for side in ("a", "b")}
    assert exported[1]["code_shift"] == {"strength": 0.0}
    networks = build_autoencoders("tiny")
    checkpoint.restore_networks(networks)
    shift, description = checkpoint_code_shift(networks, sides, 0.5)
    assert description == manifest["code_shift"] and description["norm"] == round(float(np.linalg.norm(shift)), 4)
    shifted_keras = np.asarray(networks.swap_model("a2b", shift)(real_faces))
    tflite, saved = load_swap_model(output, "tflite"), load_swap_model(output, "savedmodel")
    plain = load_swap_model(exported[0], "tflite")
    np.testing.assert_allclose(saved.swap(real_faces, "a2b"), shifted_keras, atol=1e-4)
    served = tflite.swap(real_faces, "a2b")
    assert np.abs(served - shifted_keras).mean(axis=(1, 2, 3)).max() < FACE_TOLERANCE
    # the served a2b model is the shifted one, not the plain one ...
    assert np.abs(served - plain.swap(real_faces, "a2b")).mean() > 2 * np.abs(served - shifted_keras).mean()
    # ... and b2a is the same model as without the shift
    np.testing.assert_allclose(tflite.swap(real_faces, "b2a"), plain.swap(real_faces, "b2a"), atol=1e-6)


def test_subspace_map_export_is_baked_into_a2b_and_said_in_the_manifest(exported_shifted, test_model_work, tmp_path,
                                                                       real_faces):
    """--code-subspace K: the a2b graphs apply the subspace map (faceswap/model/code_shift.py) that
    checkpoint_code_shift measures; without a --code-shift strength it is refused."""
    from faceswap.export.exporter import checkpoint_code_shift

    output = tmp_path / "model"
    manifest = export_model(test_model_work / "model", output, ExportSettings(code_shift=0.5, code_subspace=3,
                                                                             parity_faces=4))
    checkpoint = load_checkpoint(test_model_work / "model")
    networks = build_autoencoders("tiny")
    checkpoint.restore_networks(networks)
    mapping, description = checkpoint_code_shift(networks, checkpoint.meta["sides"], 0.5, subspace=3)
    assert manifest["code_shift"] == description and description["subspace"] == 3
    # side A's mean code moves as far as with the plain shift
    assert description["norm"] == exported_shifted[1]["code_shift"]["norm"]
    mapped_keras = np.asarray(networks.swap_model("a2b", mapping)(real_faces))
    saved = load_swap_model(output, "savedmodel").swap(real_faces, "a2b")
    np.testing.assert_allclose(saved, mapped_keras, atol=1e-4)
    # the float graph is the map's, not the plain shift's (the barely trained test model draws nearly
    # the same face from both, so this is read on the float graph, not through int8's rounding)
    shift, _ = checkpoint_code_shift(networks, checkpoint.meta["sides"], 0.5)
    shifted_keras = np.asarray(networks.swap_model("a2b", shift)(real_faces))
    assert np.abs(saved - shifted_keras).mean() > 10 * np.abs(saved - mapped_keras).mean()
    served = load_swap_model(output, "tflite").swap(real_faces, "a2b")
    assert np.abs(served - mapped_keras).mean(axis=(1, 2, 3)).max() < FACE_TOLERANCE
    with pytest.raises(FaceswapError, match="--code-subspace 3 needs a --code-shift"):
        export_model(test_model_work / "model", tmp_path / "refused", ExportSettings(code_subspace=3, parity_faces=0))
    with pytest.raises(FaceswapError, match="--code-subspace: .*directions"):
        export_model(test_model_work / "model", tmp_path / "refused", ExportSettings(code_shift=0.5, code_subspace=10**6,
                                                                                    parity_faces=0))
    # the benchmark scripts' measure refuses it too, rather than measuring the unmapped model
    with pytest.raises(FaceswapError, match="--code-subspace 3 needs a --code-shift"):
        checkpoint_code_shift(networks, checkpoint.meta["sides"], 0.0, subspace=3)


def test_code_shift_export_refuses_missing_faces_and_a_negative_strength(test_model_work, tmp_path, capsys):
    moved = _checkpoint_whose_faces_are_gone(test_model_work, tmp_path)
    with pytest.raises(FaceswapError, match="code shift is measured on the training faces"):
        export_model(moved, tmp_path / "out", ExportSettings(code_shift=0.5, parity_faces=0))
    assert main(["--quiet", "export", "--model-dir", str(test_model_work / "model"), "--output",
                 str(tmp_path / "out"), "--code-shift", "-1"]) != 0
    assert "--code-shift is 0 (off) or more" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_code_shift_is_measured_on_face_packs_too(test_model_work, tmp_path):
    """A model trained from face packs (a GPU bundle's sides) gets the same shift as from the folders."""
    from faceswap.export.exporter import checkpoint_code_shift
    from faceswap.training.face_pack import write_face_pack

    checkpoint = load_checkpoint(test_model_work / "model")
    networks = build_autoencoders("tiny")
    checkpoint.restore_networks(networks)
    packs = {}
    for side in ("a", "b"):
        face_set = load_face_set(side, [test_model_work / f"faces_{side}"], CLASSIC_MODEL_LAYOUT, progress=False)
        packs[side] = {"folders": [str(write_face_pack(face_set, tmp_path / f"faces_{side}.npz", quality=100))]}
    from_packs, described = checkpoint_code_shift(networks, packs, 0.5)
    from_folders, _ = checkpoint_code_shift(networks, checkpoint.meta["sides"], 0.5)
    assert described["faces"] == {side: checkpoint.meta["sides"][side]["faces"] for side in ("a", "b")}
    np.testing.assert_allclose(from_packs, from_folders, atol=0.05 * np.abs(from_folders).max())


def test_faces_moved_elsewhere_are_named_on_the_command_line(test_model_work, tmp_path, capsys):
    """A checkpoint trained elsewhere (a GPU machine, the cloud) names face paths that are not here:
    --faces-a / --faces-b point the code shift, the int8 calibration and the parity check at the
    faces on this machine, face packs included; without them the export says which option to use."""
    from faceswap.training.face_pack import write_face_pack

    moved = _checkpoint_whose_faces_are_gone(test_model_work, tmp_path)
    with pytest.raises(FaceswapError, match="--faces-a"):
        export_model(moved, tmp_path / "refused", ExportSettings(code_shift=0.5, parity_faces=0))
    with pytest.raises(FaceswapError, match=r"--faces-b .*nope: not a face folder .* nor a face pack"):
        export_model(moved, tmp_path / "refused", ExportSettings(code_shift=0.5, parity_faces=0),
                     {"a": [test_model_work / "faces_a"], "b": [tmp_path / "nope"]})
    assert not (tmp_path / "refused").exists()
    pack = write_face_pack(load_face_set("b", [test_model_work / "faces_b"], CLASSIC_MODEL_LAYOUT, progress=False),
                           tmp_path / "faces_b.npz", quality=100)
    output = tmp_path / "out"
    assert main(["--quiet", "export", "--model-dir", str(moved), "--output", str(output), "--code-shift", "0.5",
                 "--quantization", "int8", "--calibration-faces", "8", "--parity-faces", "4",
                 "--faces-a", str(test_model_work / "faces_a"), "--faces-b", str(pack)]) == 0
    assert "exported tiny model" in capsys.readouterr().out
    manifest = json.loads((output / "manifest.json").read_text())
    trained = load_checkpoint(test_model_work / "model").meta["sides"]
    assert manifest["face_sources"] == {"a": [str(test_model_work / "faces_a")], "b": [str(pack)]}
    assert manifest["sides"] == json.loads(json.dumps({side: {**data, "folders": [str(tmp_path / "gone")]}
                                                       for side, data in trained.items()}))
    assert manifest["code_shift"]["faces"] == {side: trained[side]["faces"] for side in ("a", "b")}
    assert manifest["calibration_faces"] == 8 and manifest["parity"]["faces"] == 4
    # the same shift as an export from the faces where the checkpoint found them
    networks = build_autoencoders("tiny")
    load_checkpoint(test_model_work / "model").restore_networks(networks)
    from faceswap.export.exporter import checkpoint_code_shift

    _, here = checkpoint_code_shift(networks, trained, 0.5)
    assert manifest["code_shift"]["norm"] == pytest.approx(here["norm"], rel=0.02)


def test_a_plain_export_without_its_faces_says_the_parity_check_is_skipped(test_model_work, tmp_path, caplog):
    moved = _checkpoint_whose_faces_are_gone(test_model_work, tmp_path)
    with caplog.at_level("WARNING", logger="faceswap.export.exporter"):
        manifest = export_model(moved, tmp_path / "out", ExportSettings(parity_faces=4, tflite_only=True))
    assert "parity" not in manifest and "face_sources" not in manifest
    assert any("parity check is skipped" in record.getMessage() and "--faces-a" in record.getMessage()
               for record in caplog.records)
