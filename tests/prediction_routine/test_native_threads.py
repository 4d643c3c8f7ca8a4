"""Native thread pools of a prediction worker (prediction_routine/native_threads.py): importing the
server leaves OpenBLAS with one thread (no spinning helper thread), and an operator's value wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from prediction_routine.native_threads import SINGLE_THREAD_ENVIRONMENT, limit_native_threads
from tests.conftest import REPO_ROOT

# Runs in a fresh interpreter: what numpy's OpenBLAS and OpenCV use after the server module loaded.
PROBE = """
import ctypes, json
import gunicorn.app.base   # as in a gunicorn worker, which imports the app after gunicorn
import prediction_routine.server
import numpy, cv2
prediction_routine.server.limit_opencv_threads()
counts = {}
for path in sorted({line.split()[-1] for line in open('/proc/self/maps') if 'libopenblas' in line}):
    library = ctypes.CDLL(path)   # numpy's and OpenCV's own copies of OpenBLAS
    for name in ('openblas_get_num_threads64_', 'openblas_get_num_threads'):
        if hasattr(library, name):
            counts[path] = getattr(library, name)()
            break
print(json.dumps({'openblas': sorted(set(counts.values())), 'libraries': len(counts), 'opencv': cv2.getNumThreads()}))
"""


def probe(environment: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=environment, capture_output=True,
                            text=True, timeout=120, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def clean_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in SINGLE_THREAD_ENVIRONMENT}


def test_importing_the_server_gives_openblas_and_opencv_one_thread():
    threads = probe(clean_environment())
    assert threads["libraries"] >= 1 and threads["openblas"] == [1] and threads["opencv"] == 1


def test_a_process_that_only_imports_the_server_keeps_its_thread_pools():
    environment = clean_environment()
    result = subprocess.run([sys.executable, "-c", "import os, prediction_routine.server; "
                             "print(os.environ.get('OPENBLAS_NUM_THREADS'))"],
                            cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip().splitlines()[-1] == "None"


def test_an_operator_thread_count_wins():
    environment = clean_environment()
    environment["OPENBLAS_NUM_THREADS"] = "2"
    assert 2 in probe(environment)["openblas"]   # numpy's copy follows it


def test_limit_native_threads_only_fills_what_is_missing():
    environ = {"OMP_NUM_THREADS": "3"}
    effective = limit_native_threads(environ)
    assert effective["OMP_NUM_THREADS"] == "3" and environ["OPENBLAS_NUM_THREADS"] == "1"
    assert environ["FACESWAP_RUNTIME_NUM_THREADS"] == "1" and set(effective) == set(SINGLE_THREAD_ENVIRONMENT)
