"""scripts/benchmarks/precision_benchmark.py times the train step in float32 and in bfloat16, each
in its own process, and says what ``--precision auto`` picks on this CPU."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import REPO_ROOT


def test_it_reports_both_precisions_side_by_side(capsys):
    spec = importlib.util.spec_from_file_location(
        "precision_benchmark", REPO_ROOT / "scripts" / "benchmarks" / "precision_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from faceswap.training.backend import cpu_has_bfloat16

    assert module.main(["--config", "tiny", "--gan", "unet", "--batch-size", "2", "--steps", "2", "--warmup", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(run["gan"], run["precision"]) for run in report["runs"]] == [("unet", "float32"), ("unet", "mixed_bfloat16")]
    assert all(0 < run["best_s_per_step"] <= run["median_s_per_step"] for run in report["runs"])
    ratio = report["runs"][1]["median_s_per_step"] / report["runs"][0]["median_s_per_step"]
    assert abs(report["bfloat16_over_float32_unet"] - ratio) < 0.01
    assert report["cpu_has_bfloat16"] is cpu_has_bfloat16()
    assert report["auto_precision_on_cpu"] == ("mixed_bfloat16" if cpu_has_bfloat16() else "float32")
    assert len(report["load_average_start"]) == 3 and len(report["load_average_end"]) == 3
