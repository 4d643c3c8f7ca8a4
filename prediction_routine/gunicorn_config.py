"""gunicorn settings of the prediction server (the container's command; usable locally too).

    gunicorn -c prediction_routine/gunicorn_config.py "prediction_routine.server:create_app()"

- listens on 0.0.0.0:$AIP_HTTP_PORT (Vertex AI sets it; default 8080); ``-b`` on the command line wins;
- $WEB_CONCURRENCY worker processes (default: one per core; each loads the model and the graphs
  once, ~180 MB) with $FACESWAP_SERVER_THREADS request threads each (default 1: gunicorn's sync
  worker, one frame at a time per process — a worker per core serves ~3x the frames per core of
  one worker's threads behind one GIL, docs/performance.md; more than 1: gthread);
- one thread per native library in every worker (prediction_routine/native_threads.py);
- before any worker starts, a gs:// $AIP_STORAGE_URI is copied to a local folder and MODEL_DIR
  points the workers at it (prediction_routine/model_location.py);
- gunicorn 27's control socket is off (several servers may run side by side).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from prediction_routine.native_threads import limit_native_threads  # noqa: E402

limit_native_threads()   # workers inherit it: one thread per native library per worker process

bind = [f"0.0.0.0:{os.environ.get('AIP_HTTP_PORT', '8080')}"]
# The cores this process may run on (a cpuset-limited container sees its share, not the host's).
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
workers = int(os.environ.get("WEB_CONCURRENCY", str(cores)))
threads = int(os.environ.get("FACESWAP_SERVER_THREADS", "1"))
worker_class = "sync" if threads == 1 else "gthread"
timeout = 120            # model loading counts against the first request's boot time
graceful_timeout = 10
control_socket_disable = True


def on_starting(server):
    """Copy a gs:// model folder once, in the master, before workers fork."""
    uri = os.environ.get("AIP_STORAGE_URI", "")
    if uri.startswith("gs://") and not os.environ.get("MODEL_DIR"):
        from prediction_routine.model_location import local_model_dir

        target = os.environ.get("FACESWAP_SERVER_MODEL_CACHE", "/tmp/faceswap-model")
        server.log.info("copying the model from %s to %s", uri, target)
        os.environ["MODEL_DIR"] = str(local_model_dir(uri, download_to=target))
