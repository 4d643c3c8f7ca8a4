"""The Keras backend that trains: TensorFlow (the default here, CPU), JAX or PyTorch (a CUDA GPU).

Keras 3 reads the backend from the ``KERAS_BACKEND`` environment variable (or ~/.keras/keras.json)
once, when ``keras`` is first imported; ``select_backend`` sets it for a process that has not
imported Keras yet. The networks (model/architecture.py), the loss (training/losses.py,
training/ssim.py) and the train step (training/train_step.py) use only ``keras`` and
``keras.ops``, so the same code trains on all three; only export to SavedModel / TFLite needs
TensorFlow. Checkpoints are plain NumPy arrays keyed by variable path (training/checkpoint.py),
the same on every backend.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
# /proc/cpuinfo flags of CPUs that compute bfloat16 natively: x86 AVX512_BF16 / AMX, Arm BF16
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def select_backend(name: str) -> None:
    """Make ``name`` the Keras backend of this process; ValueError if unknown, RuntimeError if
    Keras is already imported with another backend."""
    if name not in BACKENDS:
        raise ValueError(f"unknown Keras backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise RuntimeError(f"Keras is already imported with the {current} backend; set KERAS_BACKEND={name} "
                               "before starting Python")
        return
    os.environ["KERAS_BACKEND"] = name


def backend_name() -> str:
    """The active Keras backend: 'tensorflow', 'jax' or 'torch' (imports Keras)."""
    import keras

    return keras.backend.backend()


def accelerators() -> list[str]:
    """The backend's accelerator devices (e.g. ['cuda:0 NVIDIA H200']); [] when it runs on the CPU."""
    name = backend_name()
    if name == "jax":
        import jax

        return [f"{device.platform}:{device.id} {getattr(device, 'device_kind', '')}".strip()
                for device in jax.devices() if device.platform != "cpu"]
    if name == "torch":
        import torch

        return [f"cuda:{index} {torch.cuda.get_device_name(index)}" for index in range(torch.cuda.device_count())]
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices() if device.device_type != "CPU"]


def cpu_has_bfloat16(cpuinfo: str | None = None) -> bool:
    """True when the CPU has bfloat16 instructions: a flag of ``BFLOAT16_CPU_FLAGS`` on a ``flags``
    (x86) or ``Features`` (Arm) line of ``cpuinfo`` (default: /proc/cpuinfo's text; False where it
    cannot be read, e.g. not Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
                cpuinfo = file.read()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features") and set(value.split()) & set(BFLOAT16_CPU_FLAGS):
            return True
    return False


def resolve_precision(precision: str, on_accelerator: bool | None = None, cpuinfo: str | None = None) -> str:
    """The Keras dtype policy that ``precision`` (one of ``PRECISIONS``) means here: 'auto' is
    'mixed_bfloat16' on an accelerator (``on_accelerator``; default: ``accelerators()`` is not
    empty) or on a CPU with bfloat16 instructions (``cpu_has_bfloat16``), 'float32' on any other CPU,
    where bfloat16 is emulated and slower (lite96's train step with both discriminators on a 2-core
    Xeon without AVX512_BF16: 2.58 s against 0.93 s in float32; on one with it, 1.24 against 1.89
    CPU seconds, docs/default-model.md). ValueError if unknown."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if on_accelerator is None:
        on_accelerator = bool(accelerators())
    return "mixed_bfloat16" if on_accelerator or cpu_has_bfloat16(cpuinfo) else "float32"


def describe() -> dict:
    """JSON-able description of the backend: name, library versions, accelerators."""
    import keras

    name = backend_name()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[name]
    return {"backend": name, "keras": keras.__version__, name: sys.modules[module].__version__
            if module in sys.modules else None, "accelerators": accelerators()}


def configure_threads(threads: int) -> None:
    """Set TensorFlow's per-op thread count (only before TensorFlow runs anything). Other backends
    take their thread counts from the environment (XLA_FLAGS for JAX, torch.set_num_threads)."""
    if threads <= 0:
        return
    if backend_name() == "torch":
        import torch

        torch.set_num_threads(threads)
        return
    if backend_name() != "tensorflow":
        logger.warning("--threads %d applies to the TensorFlow and PyTorch backends only", threads)
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        logger.warning("TensorFlow is already running; --threads %d has no effect in this process", threads)
