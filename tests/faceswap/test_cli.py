"""The command line as a user runs it: `python -m faceswap ...` in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

from faceswap.cli import COMMANDS
from tests.conftest import REPO_ROOT


def run_cli(*arguments, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "faceswap", *map(str, arguments)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_registry_holds_the_workflow_and_provenance_commands():
    assert {"extract", "train", "export", "convert", "model-info", "verify", "make-dev-cert"} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command):
    """Every command registered in faceswap.cli.COMMANDS: its module imports and --help works."""
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: python -m faceswap " + command in result.stdout
    assert COMMANDS[command][1] in " ".join(result.stdout.split())   # its description, however wrapped


def test_top_level_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert f"    {command}" in result.stdout, command


def test_extract_writes_faces(tmp_path, still_path):
    result = run_cli("--quiet", "extract", still_path("s5"), "--output", tmp_path / "faces")
    assert result.returncode == 0, result.stderr
    assert "1 faces from 1 frames" in result.stdout
    assert (tmp_path / "faces" / "s5_000000_0.png").is_file()


def test_bad_input_is_one_clear_line_without_traceback(tmp_path, still_path):
    result = run_cli("--quiet", "extract", still_path("s39"), "--output", tmp_path / "faces")
    assert result.returncode == 2
    assert "error: no face found in s39.jpg; nothing was written" in result.stderr
    assert "Traceback" not in result.stderr


def test_model_info_prints_the_configs():
    result = run_cli("model-info", "original", "lite")
    assert result.returncode == 0, result.stderr
    assert "82,062,470" in result.stdout          # the classic model's parameter count
    assert "lite" in result.stdout
