#!/usr/bin/env python3
"""The default model's training recipe: the options of ``python -m faceswap train`` in
``train_options.txt`` (besides the sides, ``--model-dir`` and ``--iterations``), read the one way
that every user of the recipe shares: scripts/make_default_model.sh (through this script's
output), scripts/default_model/ablations.py (one part changed per variant) and
scripts/gpu_training/prepare_bundle.py (the GPU bundle's train options).

    python scripts/default_model/recipe.py        # the options, one word per line

Words are split as a shell splits them (``shlex``); lines starting with ``#`` are comments.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

TRAIN_OPTIONS = Path(__file__).resolve().parent / "train_options.txt"


def recipe_options(path: Path = TRAIN_OPTIONS) -> list[str]:
    """The train options in ``path`` (default: the default model's train_options.txt) as words,
    ``#`` lines left out. OSError if the file cannot be read."""
    return [word for line in Path(path).read_text().splitlines() if not line.lstrip().startswith("#")
            for word in shlex.split(line)]


if __name__ == "__main__":
    print("\n".join(recipe_options(Path(sys.argv[1]) if len(sys.argv) > 1 else TRAIN_OPTIONS)))
