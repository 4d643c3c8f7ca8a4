"""Every command shown in README.md and docs/*.md is exercised.

Each shell command of a ```bash block is classified: offline commands with side effects that
other tests run for real (extract, train, export, convert, the stack, the test runner, sdist,
collectstatic) are checked here by parsing their arguments with the real parsers, so a renamed
or removed option breaks this test; dry runs and the App Engine bundle are run for real; cloud
tools (docker, gcloud, gsutil) need the real services and are listed as such. A command this
test does not know fails it, so new documentation cannot slip through unexercised.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
CLOUD_TOOLS = ("docker", "gcloud", "gsutil")


def documented_commands() -> list[tuple[str, str]]:
    commands = []
    for document in DOCUMENTS:
        for block in re.findall(r"```bash\n(.*?)```", document.read_text(), flags=re.S):
            text = re.sub(r"\\\n\s*", " ", block)           # join continued lines
            for line in text.splitlines():
                line = line.split(" #")[0].strip()
                if line and not line.startswith("#"):
                    commands.append((document.name, line))
    return commands


COMMANDS = documented_commands()


def _python_words(words: list[str]) -> list[str] | None:
    """The arguments after `python` for `.venv/bin/python ...` / `../.venv/bin/python ...`."""
    if words and re.fullmatch(r"(\.\./)?\.venv/bin/python", words[0]):
        return words[1:]
    return None


def test_the_documents_hold_commands():
    assert len(COMMANDS) >= 15
    assert any(command == "scripts/run_service.sh" for _, command in COMMANDS)
    assert any(command == "scripts/run_tests.sh" for _, command in COMMANDS)


@pytest.mark.parametrize("document,command", COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS])
def test_documented_command_is_exercised(document, command, tmp_path):
    words = shlex.split(command)
    if words[0] in CLOUD_TOOLS:
        return  # needs Google Cloud / a Docker engine: not available offline (see docs/deployment.md)
    if words[0] == "cd":
        assert (REPO_ROOT / words[1]).is_dir()
        return
    if words[0] in ("scripts/run_service.sh", "scripts/run_tests.sh", "bash"):
        script = REPO_ROOT / (words[1] if words[0] == "bash" else words[0])
        assert script.is_file(), script
        if words[0] == "scripts/run_service.sh" and len(words) > 1:
            from scripts.run_service import StackSettings  # noqa: F401 - options below must exist
            run = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "run_service.py"), "--help"],
                                 capture_output=True, text=True, timeout=120)
            for option in (w for w in words[1:] if w.startswith("--")):
                assert option in run.stdout, f"{option} is not an option of run_service.py"
        return
    arguments = _python_words(words)
    assert arguments is not None, f"{document}: unknown kind of command {command!r}: exercise it in this test"
    if arguments[:2] == ["-m", "faceswap"]:
        from faceswap.cli import build_parser

        subcommand = next(word for word in arguments[2:] if not word.startswith("-"))
        parsed = build_parser(only=subcommand).parse_args(arguments[2:])
        assert parsed.command == subcommand
        return
    if arguments[:2] == ["-m", "prediction_routine.deploy"]:
        assert "--dry-run" in arguments, "only dry runs can be exercised offline"
        result = subprocess.run([sys.executable, *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "https://" in result.stdout
        return
    if arguments[:2] == ["-m", "websocket_server.app_engine_bundle"]:
        result = subprocess.run([sys.executable, *arguments[:2], str(tmp_path / "bundle")], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "bundle" / "app.yaml").is_file()
        return
    if arguments[0] == "scripts/deploy_gcp.py":
        if "--dry-run" not in arguments:   # a real deployment: its options must parse, the dry run runs it
            from scripts.deploy_gcp import build_parser as deploy_parser

            deploy_parser().parse_args(arguments[1:])
            return
        result = subprocess.run([sys.executable, *arguments], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert "$ gcloud app deploy" in result.stdout
        return
    if arguments[0] == "setup.py":
        assert arguments[1] == "sdist"   # built and installed for real in tests/prediction_routine/test_package.py
        return
    if arguments[0] == "manage.py":
        assert arguments[1] == "collectstatic"   # run for real in tests/client_app/test_django_page.py
        return
    if arguments[0].startswith("scripts/benchmarks/"):
        result = subprocess.run([sys.executable, arguments[0], "--help"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        for option in (w for w in arguments[1:] if w.startswith("--")):
            assert option in result.stdout, f"{option} is not an option of {arguments[0]}"
        return
    pytest.fail(f"{document}: unknown command {command!r}: exercise it in this test")
