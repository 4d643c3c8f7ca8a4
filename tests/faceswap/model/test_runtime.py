"""The exported-model runtime: both backends on real faces, batching, threads, and every way a
model directory can be broken (each must name the file and what is wrong)."""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from faceswap.errors import FaceswapError, InputError, ModelDirectoryError
from faceswap.faces.alignment import FaceLayout
from faceswap.model.runtime import RuntimeSettings, load_swap_model
from faceswap.training.dataset import load_face_set


@pytest.fixture(scope="module")
def real_faces(test_model_work) -> np.ndarray:
    """Model crops of real faces (d9 and d12): BGR float32 (N, 64, 64, 3) in [0, 1]."""
    faces = []
    for side in ("a", "b"):
        face_set = load_face_set(side, [test_model_work / f"faces_{side}"], FaceLayout(64, 0.0), progress=False,
                                 max_faces=3)
        faces.extend(face_set.model_crop(i) for i in range(len(face_set)))
    return np.stack(faces)


@pytest.fixture
def model_copy(test_model_dir, tmp_path) -> Path:
    destination = tmp_path / "model"
    shutil.copytree(test_model_dir, destination)
    return destination


def test_tflite_and_savedmodel_agree_on_real_faces(test_model_dir, real_faces):
    tflite = load_swap_model(test_model_dir, "tflite")
    saved = load_swap_model(test_model_dir, "savedmodel")
    for model in (tflite, saved):
        assert model.input_size == 64 and model.layout == FaceLayout(64, 0.0)
        assert model.manifest["config"] == "tiny" and model.manifest["iterations"] > 0
    for direction in ("a2b", "b2a"):
        quantised = tflite.swap(real_faces, direction)
        exact = saved.swap(real_faces, direction)
        assert quantised.shape == real_faces.shape and quantised.dtype == np.float32
        assert 0.0 <= quantised.min() and quantised.max() <= 1.0
        # int8 weights vs float32: stated tolerance 0.02 mean absolute difference per face
        assert np.abs(quantised - exact).mean(axis=(1, 2, 3)).max() < 0.02
    assert np.abs(tflite.swap(real_faces, "a2b") - tflite.swap(real_faces, "b2a")).mean() > 1e-3


def test_batches_of_any_size_give_the_same_faces_as_one_at_a_time(test_model_dir, real_faces):
    model = load_swap_model(test_model_dir, "tflite")
    batch = model.swap(real_faces, "a2b")
    singles = np.concatenate([model.swap(real_faces[i:i + 1], "a2b") for i in range(len(real_faces))])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    assert model.swap(real_faces[:0], "a2b").shape == (0, 64, 64, 3)
    np.testing.assert_allclose(model.swap(real_faces[:2], "a2b"), batch[:2], atol=1e-5)


def test_swap_is_thread_safe(test_model_dir, real_faces):
    model = load_swap_model(test_model_dir, "tflite", RuntimeSettings(num_threads=1))
    expected = {(d, n): model.swap(real_faces[:n], d) for d in ("a2b", "b2a") for n in (1, 2, 3)}
    failures: list[str] = []

    def worker(seed: int) -> int:
        rng = np.random.default_rng(seed)
        for _ in range(12):
            direction = ("a2b", "b2a")[int(rng.integers(2))]
            count = int(rng.integers(1, 4))
            output = model.swap(real_faces[:count], direction)
            if not np.allclose(output, expected[(direction, count)], atol=1e-5):
                failures.append(f"thread {seed}: {direction} x{count} differs")
        return threading.get_ident()

    # .result() re-raises what a worker raised: an exception in a thread fails the test.
    with ThreadPoolExecutor(max_workers=4) as pool:
        idents = [future.result(timeout=300) for future in [pool.submit(worker, seed) for seed in range(4)]]
    assert threading.get_ident() not in idents
    assert not failures


def test_bad_calls_raise_input_errors(test_model_dir, real_faces):
    model = load_swap_model(test_model_dir, "tflite")
    with pytest.raises(InputError, match="direction"):
        model.swap(real_faces, "a2c")
    with pytest.raises(InputError, match=r"\(N, 64, 64, 3\)"):
        model.swap(real_faces[:, :32], "a2b")
    with pytest.raises(FaceswapError, match="backend must be one of tflite, savedmodel, not 'onnx'"):
        load_swap_model(test_model_dir, "onnx")


def test_missing_directory_and_missing_manifest(tmp_path, model_copy):
    with pytest.raises(ModelDirectoryError, match="no such model directory"):
        load_swap_model(tmp_path / "nowhere")
    (model_copy / "manifest.json").unlink()
    with pytest.raises(ModelDirectoryError, match=r"manifest\.json: missing"):
        load_swap_model(model_copy)


def test_manifest_that_is_not_json_or_incomplete(model_copy):
    manifest = model_copy / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text[: len(text) // 2])
    with pytest.raises(ModelDirectoryError, match=r"manifest\.json: not valid JSON"):
        load_swap_model(model_copy)
    data = json.loads(text)
    del data["directions"]["b2a"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelDirectoryError, match=r"manifest\.json: incomplete manifest.*b2a"):
        load_swap_model(model_copy)
    data = json.loads(text)
    data["directions"]["a2b"]["tflite"] = "../../elsewhere.tflite"
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelDirectoryError, match="not a file name inside the model directory"):
        load_swap_model(model_copy)


@pytest.mark.parametrize("backend", ["tflite", "savedmodel"])
def test_missing_model_file_is_named(model_copy, backend):
    name = "swap_b2a.tflite" if backend == "tflite" else "saved_model/variables/variables.index"
    (model_copy / name).unlink()
    with pytest.raises(ModelDirectoryError, match=f"{Path(name).name}: missing"):
        load_swap_model(model_copy, backend)


def test_corrupt_tflite_is_caught_by_size_checksum_and_loader(model_copy):
    path = model_copy / "swap_a2b.tflite"
    original = path.read_bytes()
    path.write_bytes(original[:1000])
    with pytest.raises(ModelDirectoryError, match=r"swap_a2b\.tflite: corrupt \(1000 bytes"):
        load_swap_model(model_copy)
    path.write_bytes(b"\0" * len(original))
    with pytest.raises(ModelDirectoryError, match=r"swap_a2b\.tflite: corrupt \(sha256"):
        load_swap_model(model_copy)
    # Without the manifest checks the interpreter itself refuses the garbage, named the same way.
    with pytest.raises(ModelDirectoryError, match=r"swap_a2b\.tflite: corrupt TFLite model"):
        load_swap_model(model_copy, verify_files=False)


def test_corrupt_savedmodel_is_named(model_copy):
    path = model_copy / "saved_model" / "saved_model.pb"
    path.write_bytes(b"not a protobuf" + b"\0" * (path.stat().st_size - 14))
    with pytest.raises(ModelDirectoryError, match=r"saved_model\.pb: corrupt \(sha256"):
        load_swap_model(model_copy, "savedmodel")
    with pytest.raises(ModelDirectoryError, match=r"saved_model: corrupt SavedModel"):
        load_swap_model(model_copy, "savedmodel", verify_files=False)
