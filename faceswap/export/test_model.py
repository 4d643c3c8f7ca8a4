"""Build a small REAL exported model quickly (about a minute on 2 cores), for tests and demos.

Faces are extracted (with ``faceswap.extraction``) from a few frames of two sample clips —
side A ``d9.mp4`` (man with glasses, the stand-in webcam), side B ``d12.mp4`` — the ``tiny``
config is trained for some tens of iterations, and the result is exported like any model
(SavedModel + TFLite int8 + manifest.json). It swaps poorly (it is barely trained) but it is
a genuine model directory that exercises every code path of conversion and serving.

    python -m faceswap.export.test_model OUTPUT_DIR

Sample clips come from ``$FACESWAP_SHARED_DATA/clips`` (default: ``../shared/data/clips`` next
to the repository).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from faceswap.errors import InputError

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class TestModelRecipe:
    """What goes into the test model (defaults: well under a minute on 2 cores)."""

    clip_a: str = "d9"
    clip_b: str = "d12"
    frames_per_clip: int = 12
    every_n_frames: int = 8
    config: str = "tiny"
    iterations: int = 40
    batch_size: int = 8
    learning_rate: float = 1e-3
    seed: int = 0


def shared_clip(name: str) -> Path:
    """Path of a sample clip ``name`` (e.g. 'd9'); InputError if the sample data is not there."""
    root = Path(os.environ.get("FACESWAP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    path = root / "clips" / f"{name}.mp4"
    if not path.is_file():
        raise InputError(f"{path}: sample clip not found (set FACESWAP_SHARED_DATA to the shared data folder)")
    return path


def build_test_model_dir(directory: str | Path, recipe: TestModelRecipe | None = None,
                         progress: bool = False, work_dir: str | Path | None = None) -> Path:
    """Extract, train and export a small model into ``directory`` (replacing an older export); returns it.

    ``work_dir``: keep the face folders (``faces_a``, ``faces_b``) and the training directory
    (``model``: checkpoint, preview, loss log) there; by default they go to a temporary folder.
    """
    from faceswap.export.exporter import ExportSettings, export_model
    from faceswap.extraction.extract import ExtractSettings, extract_faces
    from faceswap.training.trainer import TrainSettings, Trainer

    recipe = recipe or TestModelRecipe()
    directory = Path(directory)
    extract_settings = ExtractSettings(every_n_frames=recipe.every_n_frames, max_frames=recipe.frames_per_clip)
    with tempfile.TemporaryDirectory(prefix="faceswap-test-model-") as temporary:
        work = Path(work_dir) if work_dir is not None else Path(temporary)
        for side, clip in (("a", recipe.clip_a), ("b", recipe.clip_b)):
            extract_faces([shared_clip(clip)], work / f"faces_{side}", extract_settings, progress=progress)
        settings = TrainSettings(config=recipe.config, iterations=recipe.iterations, batch_size=recipe.batch_size,
                                 save_interval=recipe.iterations, preview_interval=recipe.iterations,
                                 learning_rate=recipe.learning_rate, seed=recipe.seed, prefetch=2, preview_faces=4)
        Trainer([work / "faces_a"], [work / "faces_b"], work / "model", settings, progress=progress).run()
        export_model(work / "model", directory, ExportSettings(parity_faces=8))
    logger.info("test model ready in %s", directory)
    return directory


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m faceswap.export.test_model OUTPUT_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(build_test_model_dir(argv[0], progress=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
