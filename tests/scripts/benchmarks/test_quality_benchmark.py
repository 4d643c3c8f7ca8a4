"""scripts/benchmarks/quality_benchmark.py run as users run it: JSON out, one line per error, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "benchmarks" / "quality_benchmark.py"


def run_benchmark(*arguments: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=environment, timeout=300, check=False)


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_model_directory_that_does_not_load_is_one_line(tmp_path, still_path):
    result = run_benchmark("--model-dir", str(tmp_path), "--target", str(still_path("s0")), str(still_path("s0")))
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"error: {tmp_path / 'manifest.json'}: missing; {tmp_path} is not an "
                                          "exported model (make one with `python -m faceswap export`)"]
    assert result.stdout == ""


def test_a_target_without_a_face_is_one_line(still_path):
    result = run_benchmark("--model-dir", "models/default", "--target", str(still_path("s33")), str(still_path("s0")))
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "s33.jpg: no usable face of the target person" in lines[0]


def test_a_bad_clip_is_reported_and_the_others_still_measured(tmp_path, still_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 2048)
    output = tmp_path / "out"
    result = run_benchmark("--model-dir", "models/default", "--target", str(still_path("s1")),
                           "--output", str(output), str(broken), str(still_path("s0")))
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "broken.mp4" in lines[0]
    report = json.loads(result.stdout)
    assert [entry["media"] for entry in report["media"]] == ["broken.mp4", "s0.jpg"]
    assert "error" in report["media"][0] and report["media"][1]["identity"]["verdict"] in ("target", "source", "neither")
    assert report["load_average"]["cpus"] >= 1
    assert (output / "quality.json").is_file() and (output / "s0_jpg.png").is_file()


def test_a_bad_variant_is_one_line(still_path):
    result = run_benchmark("--model-dir", "models/default", "--target", str(still_path("s0")),
                           "--variant", "sharp:colour=none", str(still_path("s0")))
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "variant 'sharp:colour=none'" in lines[0]
