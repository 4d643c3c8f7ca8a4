"""Keep compact snapshots of a training run's checkpoint every N iterations (for quality-vs-iterations).

    python scripts/default_model/snapshot_checkpoints.py workspace/default/model --every 400

Polls ``<model dir>/checkpoint.npz`` (written atomically by the trainer every ``--save-interval``)
and writes ``<model dir>/snapshots/iteration-<N>.npz`` (float16 weights, no optimizer state; with
its parts ``iteration-<N>.part2.npz`` ... for a model past 15 MB, see faceswap/training/checkpoint.py)
whenever the checkpoint's iteration is a multiple of ``--every``. Runs until interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from faceswap.errors import CheckpointError  # noqa: E402
from faceswap.training.checkpoint import (checkpoint_path, load_checkpoint, read_meta,  # noqa: E402
                                          save_compact_checkpoint)


def checkpoint_iteration(path: Path) -> int | None:
    """The iteration recorded in a checkpoint's meta (reads only that member), None if unreadable."""
    try:
        return int(read_meta(path).get("iteration", 0))
    except (CheckpointError, TypeError, ValueError):  # a checkpoint being replaced right now: try again next poll
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--every", type=int, default=400, help="snapshot iterations that are multiples of this")
    parser.add_argument("--poll", type=float, default=20.0, help="seconds between looks at the checkpoint")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    snapshots = args.model_dir / "snapshots"
    while True:
        iteration = checkpoint_iteration(checkpoint_path(args.model_dir)) if checkpoint_path(args.model_dir).exists() else None
        if iteration and iteration % args.every == 0:
            target = snapshots / f"iteration-{iteration:06d}.npz"
            if not target.exists():
                try:
                    save_compact_checkpoint(load_checkpoint(args.model_dir), target)
                    logging.info("snapshot %s", target)
                except CheckpointError as error:
                    logging.warning("%s", error)
        time.sleep(args.poll)


if __name__ == "__main__":
    sys.exit(main())
