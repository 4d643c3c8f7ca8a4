"""scripts/default_model/ablations.py: each variant changes exactly one part of the default recipe
(checked through the real train command line), and a tiny ablation really trains from a compact
checkpoint in parts (the two-phase pretrain variant), benchmarks it, writes its JSON and table,
and reuses what is done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

from faceswap.settings import settings_from
from faceswap.training import command as train_command
from faceswap.training.augmentation import AugmentSettings
from faceswap.training.checkpoint import read_checkpoint, save_compact_checkpoint
from faceswap.training.losses import LossSettings
from faceswap.training.trainer import TrainSettings
from scripts.default_model import ablations
from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "default_model" / "ablations.py"


def _settings(command: list[str]) -> dict:
    """Every train setting the command line gives (as `python -m faceswap train` parses it)."""
    import argparse

    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    args = parser.parse_args(command[command.index("train") + 1:])
    merged = {}
    for kind in (TrainSettings, AugmentSettings, LossSettings):
        merged.update(asdict(settings_from(kind, args, env_prefix="UNUSED_")))
    return {**merged, "side_a": args.side_a, "side_b": args.side_b}


def test_each_variant_changes_one_part_of_the_recipe(tmp_path):
    def commands(variant):
        return ablations.train_commands(variant, tmp_path, ["A1", "A2"], ["B"], "lite96", 9000, 1000, ["--batch-size", "8"])

    [baseline_command] = commands("baseline")
    baseline = _settings(baseline_command)
    assert (baseline["config"], baseline["iterations"], baseline["batch_size"]) == ("lite96", 10_000, 8)
    assert not baseline["balance"] and not baseline["color_augmentation"] and baseline["precision"] == "auto"
    assert (baseline["warmup_iterations"], baseline["decay_floor"], baseline["eyes_mouth_weight"]) == (300, 1.0, 0.0)
    assert baseline["true_face_power"] == 0.003 and baseline["gan_power"] == 0.1
    assert baseline["warp_noise"] > 0 and (baseline["side_a"], baseline["side_b"]) == (["A1", "A2"], ["B"])
    people = ["A1", "A2", str(ablations.DEFAULT_WORK / "faces_a_people")]
    changed = {"eyes-mouth": {"eyes_mouth_weight": 300.0}, "all-people": {"side_a": people}, "balance": {"balance": True},
               "lr-schedule": {"decay_floor": 0.2}, "color-augmentation": {"color_augmentation": True},
               "no-warp": {"warp_noise": 0.0}, "no-true-face": {"true_face_power": 0.0},
               "true-face-strong": {"true_face_power": 0.1}, "true-face-step": {"true_face_power": 0.01},
               "no-gan": {"gan_power": 0.0}, "gan-strong": {"gan_power": 0.3}, "gan-unet": {"gan_discriminator": "unet"},
               "lr-dropout": {"lr_dropout": 0.3}, "gradient-difference": {"gradient_difference_weight": 10.0}}
    for variant, change in changed.items():
        [command] = commands(variant)
        assert _settings(command) == {**baseline, **change}, variant
    pretrain, normal = commands("pretrain")
    assert _settings(pretrain) == {**baseline, "side_b": ["A1", "A2"], "iterations": 9500, "decay_end": 10_000}
    assert _settings(normal) == baseline
    assert set(ablations.VARIANTS) == {"baseline", *changed, "pretrain"}


def _run(*arguments: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"), timeout=timeout, check=False)


def test_an_unknown_variant_is_one_error_line(tmp_path):
    result = _run("--from", str(tmp_path / "none.npz"), "--iterations", "2", "--work", str(tmp_path),
                  "--variants", "baseline,no-dropout", timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: unknown variant(s) no-dropout; choose from {', '.join(ablations.VARIANTS)}"]


def test_a_tiny_pretrain_ablation_trains_in_two_phases_and_benchmarks(test_model_work, clip_path, still_path, tmp_path):
    start = read_checkpoint(test_model_work / "model" / "checkpoint.npz")
    compact = save_compact_checkpoint(start, tmp_path / "start" / "checkpoint.npz", part_bytes=60_000)
    assert compact.with_name("checkpoint.part2.npz").is_file()
    work = tmp_path / "work"
    arguments = ["--from", str(compact), "--iterations", "2", "--work", str(work), "--variants", "pretrain",
                 "--side-a", str(test_model_work / "faces_a"), "--side-b", str(test_model_work / "faces_b"),
                 "--media", str(clip_path("d18")), "--target", str(still_path("s1")), "--max-frames", "2",
                 "--", "--batch-size", "4", "--prefetch", "0", "--preview-faces", "2"]
    result = _run(*arguments)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["start_iteration"] == start.iteration and report["config"] == "tiny" and report["niceness"] >= 10
    assert list(report["variants"]) == ["pretrain"]  # two phases: the one-phase variants' path and more
    for name, entry in report["variants"].items():
        assert entry["iteration"] == start.iteration + 2, name
        assert read_checkpoint(work / name / "checkpoint.npz").iteration == start.iteration + 2
        assert entry["training_seconds"] > 0 and len(entry["load_average"]["start"]) == 3
        figures = entry["media"]["d18.mp4"]
        assert 0.0 < figures["output_to_target"] < 2.0 and 0.0 <= figures["judged_target"] <= 1.0, figures
        assert set(figures) >= {"detail_share_of_ceiling", "mouth_correlation", "eye_correlation", "flicker_ratio"}
    pretrain_log = (work / "pretrain" / "train.log").read_text()
    first, second = [line for line in pretrain_log.splitlines() if line.startswith("$ ")]
    faces_a = str(test_model_work / "faces_a")
    assert f"--side-b {faces_a} --iterations {start.iteration + 1}" in first
    assert f"--side-b {test_model_work / 'faces_b'} --iterations {start.iteration + 2}" in second
    assert json.loads((work / "ablations.json").read_text()) == report
    table = (work / "ablations.md").read_text()
    assert "| pretrain |" in table and "d18.mp4" in table

    again = _run(*arguments)  # all done: nothing is trained or measured again
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["variants"] == report["variants"]
    assert (work / "pretrain" / "train.log").read_text() == pretrain_log
