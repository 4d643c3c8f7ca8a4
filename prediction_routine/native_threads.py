"""One thread per native library in each prediction worker: nothing spins, nothing fights.

The prediction server scales by worker *processes* (one per core, gunicorn ``--workers``), so every
native library inside a worker must run its work on the calling thread. Left to their defaults,
each one starts a pool sized to the machine's cores, and those pools burn CPU without doing work
(measured on the 2-core machine with the stream benchmark, py-spy and /proc per-thread CPU, see
docs/performance.md):

- OpenBLAS (numpy's matrix products, e.g. the colour transfer's ``weights @ pixels``) wakes a
  second thread for a small product; that thread then busy-waits (``sched_yield``) for ~0.1 s
  after every call: ~60 % of a core at 30 frames/s for no work;
- TFLite/XNNPACK (the swap model) with 2 threads hands half of a 2 ms call to a pool thread that
  another worker process is already using;
- OpenCV's ``parallel_for`` splits a 640x480 warp over a pool per process.

``limit_native_threads()`` must run before numpy, OpenCV or TFLite are first imported in the
process (libraries read these variables once, when they load): ``prediction_routine/server.py``
calls it first thing when gunicorn imports it (a worker; a test importing the module is left
alone), and ``gunicorn_config.py`` calls it in the master so workers inherit it.
Values already in the environment win, so an operator can still override any of them.
"""

from __future__ import annotations

import os
from typing import MutableMapping

# Variable -> value for a one-thread-per-library worker process.
SINGLE_THREAD_ENVIRONMENT = {
    "OPENBLAS_NUM_THREADS": "1",          # numpy's bundled OpenBLAS
    "OMP_NUM_THREADS": "1",               # OpenMP users (oneDNN inside TensorFlow, OpenCV builds with OpenMP)
    "MKL_NUM_THREADS": "1",               # numpy/TensorFlow builds linked against MKL
    "FACESWAP_RUNTIME_NUM_THREADS": "1",  # TFLite/XNNPACK interpreter threads (faceswap.model.runtime)
    "TF_NUM_INTRAOP_THREADS": "1",        # the SavedModel backend (FACESWAP_ROUTINE_BACKEND=savedmodel)
    "TF_NUM_INTEROP_THREADS": "1",
}


def limit_native_threads(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set every variable of SINGLE_THREAD_ENVIRONMENT that ``environ`` (default os.environ) lacks.

    Returns the values now in effect for those variables. Call before numpy/OpenCV/TFLite load.
    """
    environ = os.environ if environ is None else environ
    for name, value in SINGLE_THREAD_ENVIRONMENT.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in SINGLE_THREAD_ENVIRONMENT}


def limit_opencv_threads(threads: int = 1) -> None:
    """OpenCV's own pool (``cv2.setNumThreads``); OpenCV does not read an environment variable for it."""
    import cv2

    cv2.setNumThreads(threads)
