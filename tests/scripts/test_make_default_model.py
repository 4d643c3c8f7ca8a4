"""scripts/make_default_model.sh, the command docs/default-model.md gives for the default model: on a
fresh work folder it resumes the compact training state committed in models/default-training/ (all
its parts), trains with scripts/default_model/train_options.txt to the total it is given, and prints
the export command that makes the bundled copy. The extraction step is skipped by handing it the
test model's face folders (faces_b/faces.json there means "already extracted")."""

from __future__ import annotations

import os
import shlex
import subprocess

from faceswap.training.checkpoint import read_checkpoint
from scripts.default_model.recipe import recipe_options
from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "make_default_model.sh"
COMMITTED = REPO_ROOT / "models" / "default-training" / "checkpoint.npz"


def test_a_fresh_work_folder_resumes_the_committed_state_with_the_recipe(test_model_work, tmp_path):
    work = tmp_path / "default"
    work.mkdir()
    (work / "faces_a_clips").symlink_to(test_model_work / "faces_a")   # the test model's faces of d9
    (work / "faces_b").symlink_to(test_model_work / "faces_b")         # ... and of d12
    committed = read_checkpoint(COMMITTED)
    total = committed.iteration + 2
    result = subprocess.run(["bash", str(SCRIPT), str(total), "--prefetch", "0", "--preview-faces", "2"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, FACESWAP_DEFAULT_WORK=str(work), PYTHONWARNINGS="ignore"))
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = read_checkpoint(work / "model" / "checkpoint.npz")
    assert resumed.iteration == total and resumed.config.name == committed.config.name == "lite96"
    recipe = recipe_options()
    assert resumed.meta["batch_size"] == int(recipe[recipe.index("--batch-size") + 1])
    export = result.stdout.strip().splitlines()[-1]
    assert export.startswith("export with: ")
    words = shlex.split(export.removeprefix("export with: ").split(" (")[0])
    assert words[1:4] == ["-m", "faceswap", "export"] and "--tflite-only" in words
    assert words[words.index("--code-shift") + 1] == "0.5"   # the shipped model's shift (docs/default-model.md)
    assert words[words.index("--code-subspace") + 1] == "8"  # ... as the subspace map (session 21)
    assert words[words.index("--model-dir") + 1] == f"{work}/model"
    # beside the shipped model, never over it: it replaces models/default only once measured better
    assert words[words.index("--output") + 1] == f"{work}/export"
    assert words[words.index("--compact-checkpoint") + 1] == f"{work}/training-state/checkpoint.npz"
