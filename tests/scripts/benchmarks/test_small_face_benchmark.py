"""scripts/benchmarks/small_face_benchmark.py runs and reports what the small-face pass costs:
no tiles (and no extra cost) at 640x480, 8 tiles at 1080p, 45 at 4K, the 48 px case found."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import REPO_ROOT


def test_small_face_benchmark_prints_the_cost_per_frame_size(capsys, shared_data):
    spec = importlib.util.spec_from_file_location(
        "small_face_benchmark", REPO_ROOT / "scripts" / "benchmarks" / "small_face_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    assert module.main(["--rounds", "1"]) == 0

    report = json.loads(capsys.readouterr().out)
    frames = report["frames"]
    assert [frames[size]["tiles"] for size in ("640x480", "1080p", "4K")] == [0, 8, 45]
    assert all(frames[size]["faces_found"] == 0 for size in frames)
    assert frames["4K"]["median_cpu_ms"]["with_small_face_pass"] > frames["4K"]["median_cpu_ms"]["whole_frame_only"]
    assert report["case_1080p_48px"]["faces_found"] == [1, 1] and report["case_48px_in_4K"]["faces_found"] == [1, 1]
    assert len(report["load_average"]["start"]) == 3
