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
