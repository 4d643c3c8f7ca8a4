"""The same training on another Keras backend: JAX (on the CPU here; the GPU machines run it on
CUDA) trains the real faces with the keras.ops loss and the one-model train step, its loss falls,
its checkpoint resumes on TensorFlow and a TensorFlow checkpoint resumes on JAX, and both backends
draw the same faces from the same weights. Each JAX run is its own process (Keras picks its
backend once per process). PyTorch is not in the lock: its test runs where torch is importable
(here: ``PYTHONPATH=<a folder with the CPU torch wheel installed>``) and is skipped elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from faceswap.model.architecture import build_autoencoders
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.trainer import TrainSettings, Trainer
from faceswap.training.train_step import make_predict
from tests.conftest import REPO_ROOT

TRAIN_ARGS = ["--config", "tiny", "--batch-size", "8", "--learning-rate", "1e-3", "--save-interval", "10",
              "--preview-interval", "10", "--preview-faces", "3", "--prefetch", "2"]


def _run_in_backend(code_or_args, timeout=600, backend="jax") -> subprocess.CompletedProcess:
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    environment = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "PYTHONPATH": path}
    command = ([sys.executable, "-c", code_or_args] if isinstance(code_or_args, str)
               else [sys.executable, "-m", "faceswap", "-q", *code_or_args])
    process = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=timeout)
    assert process.returncode == 0, process.stderr[-3000:]
    return process


def _train_in_backend(face_folders, model_dir, iterations: int, backend="jax") -> None:
    side_a, side_b = face_folders
    _run_in_backend(["train", "--side-a", str(side_a), "--side-b", str(side_b), "--model-dir", str(model_dir),
                 "--iterations", str(iterations), *TRAIN_ARGS], backend=backend)


def _losses(model_dir) -> np.ndarray:
    rows = (model_dir / "loss.csv").read_text().splitlines()[1:]
    return np.array([[float(x) for x in row.split(",")[:3]] for row in rows])


def _faces(face_folders, count=4) -> np.ndarray:
    from faceswap.model.architecture import get_config
    from faceswap.training.dataset import load_face_set

    face_set = load_face_set("a", [face_folders[0]], get_config("tiny").layout, progress=False, max_faces=count)
    return np.stack([face_set.model_crop(i) for i in range(len(face_set))])


def test_jax_trains_and_its_checkpoint_resumes_on_tensorflow_and_back(face_folders, tmp_path):
    pytest.importorskip("jax")
    model_dir = tmp_path / "model"
    _train_in_backend(face_folders, model_dir, 40)
    saved = load_checkpoint(model_dir)
    assert saved.iteration == 40 and any(key.startswith("optimizer/") for key in saved.arrays)
    losses = _losses(model_dir)
    assert losses[:, 0].tolist() == list(range(1, 41))
    total = losses[:, 1] + losses[:, 2]
    assert total[-8:].mean() < 0.95 * total[:8].mean(), total  # the loss falls on JAX

    # The same weights draw the same faces on JAX and on TensorFlow.
    faces = _faces(face_folders)
    np.save(tmp_path / "faces.npy", faces)
    _run_in_backend(textwrap.dedent(f"""
        import numpy as np
        from faceswap.model.architecture import build_autoencoders
        from faceswap.training.checkpoint import load_checkpoint
        from faceswap.training.train_step import make_predict
        networks = build_autoencoders("tiny")
        load_checkpoint({str(model_dir)!r}).restore_networks(networks)
        faces = np.load({str(tmp_path / 'faces.npy')!r})
        np.savez({str(tmp_path / 'jax_out.npz')!r}, *make_predict(networks)(faces, faces))
        """))
    networks = build_autoencoders("tiny")
    saved.restore_networks(networks)
    tensorflow_out = make_predict(networks)(faces, faces)
    with np.load(tmp_path / "jax_out.npz") as jax_out:
        for index, expected in enumerate(tensorflow_out):
            np.testing.assert_allclose(jax_out[f"arr_{index}"], expected, atol=2e-5)

    # TensorFlow resumes the JAX checkpoint (weights and Adam state) ...
    side_a, side_b = face_folders
    settings = TrainSettings(config="tiny", batch_size=8, learning_rate=1e-3, save_interval=10, preview_interval=10,
                             preview_faces=3, prefetch=2, iterations=50)
    result = Trainer([side_a], [side_b], model_dir, settings, progress=False).run()
    assert (result.start_iteration, result.iteration) == (40, 50)
    resumed_losses = np.array([a + b for _, a, b in result.losses])
    assert resumed_losses.mean() < 1.05 * total[-8:].mean()  # it continues, it does not start over

    # ... and JAX resumes TensorFlow's.
    _train_in_backend(face_folders, model_dir, 60)
    final = _losses(model_dir)
    assert final[:, 0].tolist() == list(range(1, 61))
    assert (final[50:, 1] + final[50:, 2]).mean() < 1.05 * total[-8:].mean()
    assert load_checkpoint(model_dir).iteration == 60


def test_the_adversarial_terms_train_on_jax_and_resume_on_tensorflow(face_folders, tmp_path):
    """The code discriminator (training/true_face.py) and the patch discriminator
    (training/patch_gan.py) on JAX: their stop_gradient turns run under jax.jit, they learn, and
    TensorFlow resumes their weights and Adam state."""
    pytest.importorskip("jax")
    from faceswap.training import patch_gan, true_face
    from faceswap.training.losses import LossSettings

    model_dir = tmp_path / "model"
    side_a, side_b = face_folders
    _run_in_backend(["train", "--side-a", str(side_a), "--side-b", str(side_b), "--model-dir", str(model_dir),
                     "--iterations", "20", "--true-face-power", "0.1", "--gan-power", "0.1",
                     "--eyes-mouth-weight", "0", *TRAIN_ARGS])
    saved = load_checkpoint(model_dir)
    discriminator = {k: v for k, v in saved.arrays.items()
                     if k.startswith((f"{true_face.DISCRIMINATOR_NAME}/", f"{patch_gan.DISCRIMINATOR_NAME}/"))}
    assert saved.iteration == 20 and discriminator
    assert {k.split("/")[0] for k in discriminator} == {true_face.DISCRIMINATOR_NAME, patch_gan.DISCRIMINATOR_NAME}
    networks = build_autoencoders("tiny")
    weights = sum(len(n.weights) for n in networks.networks().values())
    assert sum(k.startswith("optimizer/") for k in saved.arrays) == 1 + 2 * (weights + len(discriminator))
    settings = TrainSettings(config="tiny", batch_size=8, learning_rate=1e-3, save_interval=10, preview_interval=10,
                             preview_faces=3, prefetch=2, iterations=30)
    result = Trainer([side_a], [side_b], model_dir, settings, progress=False,
                     loss=LossSettings(eyes_mouth_weight=0, true_face_power=0.1, gan_power=0.1)).run()
    assert (result.start_iteration, result.iteration) == (20, 30)
    resumed = load_checkpoint(model_dir).arrays
    assert all(resumed[k].shape == v.shape for k, v in discriminator.items())
    assert any(not np.array_equal(resumed[k], v) for k, v in discriminator.items())


def test_the_recipe_settings_train_through_the_backend_neutral_step(face_folders, tmp_path):
    """mixed_bfloat16, warm-up + decay, balanced batches, the eyes-and-mouth weight, the true-face
    and the GAN terms together."""
    import keras

    from faceswap.training.losses import LossSettings

    side_a, side_b = face_folders
    settings = TrainSettings(config="tiny", batch_size=4, learning_rate=1e-3, iterations=6, warmup_iterations=3,
                             decay_floor=0.5, balance=True, precision="mixed_bfloat16", save_interval=6,
                             preview_interval=6, preview_faces=2, prefetch=0)
    try:
        loss = LossSettings(eyes_mouth_weight=300.0, true_face_power=0.01, gan_power=0.1)
        result = Trainer([side_a], [side_b], tmp_path / "model", settings, loss=loss, progress=False).run()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert result.iteration == 6 and all(np.isfinite([a + b for _, a, b in result.losses]))
    saved = load_checkpoint(tmp_path / "model")
    weights = [value for key, value in saved.arrays.items() if key.startswith("encoder/")]
    assert weights and all(value.dtype == np.float32 for value in weights)  # bfloat16 maths, float32 weights
    assert (tmp_path / "model" / "preview.png").read_bytes().startswith(b"\x89PNG")


def test_pytorch_trains_and_its_checkpoint_resumes_on_tensorflow(face_folders, tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not in the lock; install the CPU wheel elsewhere to run this")
    model_dir = tmp_path / "model"
    _train_in_backend(face_folders, model_dir, 20, backend="torch")
    losses = _losses(model_dir)
    total = losses[:, 1] + losses[:, 2]
    assert losses[:, 0].tolist() == list(range(1, 21)) and total[-5:].mean() < 0.95 * total[:5].mean(), total
    side_a, side_b = face_folders
    settings = TrainSettings(config="tiny", batch_size=8, learning_rate=1e-3, save_interval=10, preview_interval=10,
                             preview_faces=3, prefetch=2, iterations=25)
    result = Trainer([side_a], [side_b], model_dir, settings, progress=False).run()
    assert result.start_iteration == 20
    assert np.mean([a + b for _, a, b in result.losses]) < 1.05 * total[-5:].mean()


X86_WITHOUT = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"
X86_WITH = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
X86_AMX = "flags\t\t: fpu avx512f amx_tile amx_bf16 amx_int8\n"
ARM_WITH = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
ARM_WITHOUT = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32\nmodel name\t: bf16 lookalike\n"


@pytest.mark.parametrize("cpuinfo, native", [(X86_WITHOUT, False), (X86_WITH, True), (X86_AMX, True),
                                             (ARM_WITH, True), (ARM_WITHOUT, False), ("", False)])
def test_bfloat16_instructions_are_read_from_the_cpu_flags(cpuinfo, native):
    from faceswap.training.backend import cpu_has_bfloat16

    assert cpu_has_bfloat16(cpuinfo) is native


def test_auto_precision_is_bfloat16_only_where_it_is_computed_natively():
    from faceswap.training.backend import cpu_has_bfloat16, resolve_precision

    assert resolve_precision("auto", on_accelerator=False, cpuinfo=X86_WITHOUT) == "float32"
    assert resolve_precision("auto", on_accelerator=False, cpuinfo=X86_WITH) == "mixed_bfloat16"
    assert resolve_precision("auto", on_accelerator=True, cpuinfo=X86_WITHOUT) == "mixed_bfloat16"
    for explicit in ("float32", "mixed_bfloat16"):       # an explicit choice is kept everywhere
        assert resolve_precision(explicit, on_accelerator=False, cpuinfo=X86_WITHOUT) == explicit
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        resolve_precision("float16")
    # this machine, no accelerator (TensorFlow CPU): what its own /proc/cpuinfo says
    assert resolve_precision("auto") == ("mixed_bfloat16" if cpu_has_bfloat16() else "float32")


def test_a_run_with_auto_precision_says_what_it_chose(face_folders, tmp_path, caplog):
    import keras

    from faceswap.training.backend import resolve_precision

    side_a, side_b = face_folders
    settings = TrainSettings(config="tiny", batch_size=4, learning_rate=1e-3, iterations=2, precision="auto",
                             save_interval=2, preview_interval=2, preview_faces=2, prefetch=0)
    caplog.set_level("INFO", logger="faceswap.training.trainer")
    try:
        result = Trainer([side_a], [side_b], tmp_path / "model", settings, progress=False).run()
        policy = keras.mixed_precision.global_policy().name
    finally:
        keras.mixed_precision.set_global_policy("float32")
    chosen = resolve_precision("auto")
    assert result.iteration == 2 and policy == chosen
    assert any(r.getMessage().startswith(f"precision auto: {chosen} (") for r in caplog.records)


def test_the_unet_discriminator_judges_alike_on_jax_and_tensorflow(face_folders, tmp_path):
    """Its transposed convolutions ("same" padding, stride 2 and 1) place their outputs alike on
    both backends: the same weights give the same logits (so a GPU run on JAX trains the same layer)."""
    pytest.importorskip("jax")
    from faceswap.model.architecture import get_config
    from faceswap.training import patch_gan

    layer = patch_gan.build_patch_discriminator(get_config("lite96"), "unet")
    rng = np.random.default_rng(3)
    weights = [value + rng.normal(0, 0.05, value.shape).astype(np.float32) for value in layer.get_weights()]
    layer.set_weights(weights)   # non-zero biases too
    import cv2

    faces = np.stack([cv2.resize(face, (96, 96), interpolation=cv2.INTER_CUBIC)
                      for face in _faces(face_folders, 2)]).astype(np.float32)
    np.savez(tmp_path / "in.npz", faces, *weights)
    _run_in_backend(textwrap.dedent(f"""
        import numpy as np
        from faceswap.model.architecture import get_config
        from faceswap.training import patch_gan
        layer = patch_gan.build_patch_discriminator(get_config("lite96"), "unet")
        with np.load({str(tmp_path / 'in.npz')!r}) as data:
            arrays = [data[f"arr_{{i}}"] for i in range(len(data.files))]
        layer.set_weights(arrays[1:])
        np.save({str(tmp_path / 'jax.npy')!r}, np.asarray(layer(arrays[0])))
        """))
    expected = np.asarray(layer(faces))
    assert expected.shape == (2, 96, 96, 2) and expected.std() > 0.01
    np.testing.assert_allclose(np.load(tmp_path / "jax.npy"), expected, atol=1e-4)
