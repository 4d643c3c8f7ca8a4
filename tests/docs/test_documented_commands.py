"""Every command shown in README.md and docs/*.md is exercised.

Each shell command of a ```bash block is classified: offline commands with side effects that
other tests run for real (extract, train, export, convert, the stack, the test runner, sdist,
collectstatic) are checked here by parsing their arguments with the real parsers, so a renamed
or removed option breaks this test, and every input they name must exist or be made by an earlier
command of the same document (a documented workflow runs in the order shown); cheap commands
(make-dev-cert, dry runs, the App Engine bundle) are run for real, a real deployment as its dry run;
cloud tools (docker, gcloud, gsutil) must be commands the deploy script's dry run shows. A command
this test does not know fails it, so new documentation cannot slip through unexercised.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

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


@functools.lru_cache(maxsize=1)
def deploy_dry_run() -> str:
    """What ``scripts/deploy_gcp.py --dry-run`` prints (every command a deployment runs)."""
    result = subprocess.run([sys.executable, "scripts/deploy_gcp.py", "--project", "YOUR_PROJECT", "--dry-run"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


# Per `python -m faceswap` subcommand: the parsed arguments it reads, and those it writes.
WORKFLOW_INPUTS = {"extract": ("inputs",), "train": ("side_a", "side_b", "grow_from"), "export": ("model_dir",),
                   "convert": ("input", "model_dir", "c2pa_cert", "c2pa_key"), "verify": ("files", "trust_anchors"),
                   "make-dev-cert": ()}
WORKFLOW_OUTPUTS = {"extract": ("output",), "train": ("model_dir",), "export": ("output",), "convert": ("output",),
                    "verify": (), "make-dev-cert": ("folder",)}


def _paths(parsed, names) -> list[str]:
    found = []
    for name in names:
        value = getattr(parsed, name, None)
        found.extend(value if isinstance(value, list) else [value] if value else [])
    return [str(path) for path in found]


def _earlier_outputs(document: str, command: str) -> tuple[list[str], list[str]]:
    """(local paths, image tags) the commands of ``document`` before ``command`` write: --output,
    --model-dir of train, make-dev-cert's folder, a local cp destination, docker build -t."""
    paths, images = [], []
    for _, earlier in (entry for entry in COMMANDS if entry[0] == document):
        if earlier == command:
            break
        words = shlex.split(earlier)
        for option, value in zip(words, words[1:]):
            if option in ("--output", "-o", "--output-dir"):
                paths.append(value)
            if option == "-t" and words[0] == "docker":
                images.append(value)
        arguments = _faceswap_arguments(earlier)
        if arguments:
            subcommand = next(word for word in arguments if not word.startswith("-"))
            from faceswap.cli import build_parser

            paths.extend(_paths(build_parser(only=subcommand).parse_args(arguments), WORKFLOW_OUTPUTS.get(subcommand, ())))
        if words[:3] in (["gcloud", "storage", "cp"], ["gsutil", "cp", words[2] if len(words) > 2 else ""]):
            paths.append(words[-1])
    return paths, images


def _is_local_path(word: str) -> bool:
    return not word.startswith("-") and "://" not in word and ("/" in word or word.startswith(".")) \
        and ".pkg.dev/" not in word and "gcr.io/" not in word


def check_cloud_command(document: str, command: str, words: list[str]) -> None:
    """docker / gcloud / gsutil need the real services. A step of the deployment must be one that
    scripts/deploy_gcp.py's dry run shows; any other must be self-consistent: its Dockerfile and
    build context exist, it pushes an image an earlier command built, and the local files it reads
    exist or an earlier command of the document makes them."""
    lead = " ".join([word for word in words if not word.startswith("-")][:3])
    if f"$ {lead}" in deploy_dry_run():
        return
    made, images = _earlier_outputs(document, command)
    copying = words[:3] == ["gcloud", "storage", "cp"] or words[:2] == ["gsutil", "cp"]
    positional = [word for word in words[1:] if not word.startswith("-")]
    if words[:2] == ["docker", "build"]:
        dockerfile = words[words.index("-f") + 1] if "-f" in words else "Dockerfile"
        assert (REPO_ROOT / dockerfile).is_file(), f"{document}: `{command}`: no {dockerfile}"
        assert (REPO_ROOT / words[-1]).is_dir(), f"{document}: `{command}`: no build context {words[-1]}"
        assert "-t" in words, f"{document}: `{command}` builds an image without a tag"
        return
    if words[:2] == ["docker", "push"]:
        assert words[2] in images, f"{document}: `{command}` pushes an image no earlier command builds"
        return
    assert copying, f"{document}: `{command}` is neither a step of scripts/deploy_gcp.py nor a known cloud copy"
    sources = positional[2:-1] if words[0] == "gcloud" else positional[1:-1]
    assert sources and (positional[-1].startswith("gs://") or all(s.startswith("gs://") for s in sources)), \
        f"{document}: `{command}` copies nothing to or from Cloud Storage"
    for source in (s for s in sources if _is_local_path(s)):
        inside_made = any(source == out or source.startswith(out.rstrip("/") + "/") for out in made)
        assert inside_made or (REPO_ROOT / source).exists(), \
            f"{document}: `{command}` uploads {source}, which no earlier command makes and which does not exist"


MAKE_DEFAULT_MODEL = "scripts/make_default_model.sh"


def _make_default_model_output() -> str:
    """The work folder scripts/make_default_model.sh fills: ``<its default work folder>`` with the face
    folders it extracts and the training directory ``model`` (tests/scripts/test_make_default_model.py
    runs it for real)."""
    script = (REPO_ROOT / MAKE_DEFAULT_MODEL).read_text()
    match = re.search(r'work="\$\{FACESWAP_DEFAULT_WORK:-([^}]+)\}"', script)
    assert match and '--model-dir "$work/model"' in script, "make_default_model.sh: where does it train?"
    for folder in ("faces_a_clips", "faces_a_people", "faces_b", "holdout_b"):
        assert f'--output "$work/{folder}"' in script, f"make_default_model.sh: does it still make {folder}?"
    return match.group(1)


def _faceswap_arguments(command: str) -> list[str] | None:
    arguments = _python_words(shlex.split(command))
    return arguments[2:] if arguments and arguments[:2] == ["-m", "faceswap"] else None


@pytest.mark.parametrize("document", sorted({document for document, _ in COMMANDS}))
def test_documented_workflows_use_only_what_exists_or_an_earlier_step_makes(document):
    from faceswap.cli import build_parser

    made: list[str] = []
    checked = 0
    for _, command in (entry for entry in COMMANDS if entry[0] == document):
        if shlex.split(command)[0] == MAKE_DEFAULT_MODEL:
            made.append(_make_default_model_output())
            continue
        arguments = _faceswap_arguments(command)
        if arguments is None:
            continue
        subcommand = next(word for word in arguments if not word.startswith("-"))
        assert subcommand in WORKFLOW_INPUTS, f"{document}: add `{subcommand}` to this test's workflow tables"
        parsed = build_parser(only=subcommand).parse_args(arguments)
        for path in _paths(parsed, WORKFLOW_INPUTS[subcommand]):
            inside_made = any(path == output or path.startswith(output.rstrip("/") + "/") for output in made)
            assert inside_made or (REPO_ROOT / path).exists(), \
                f"{document}: `{command}` reads {path}, which no earlier command makes and which does not exist"
            checked += 1
        made.extend(_paths(parsed, WORKFLOW_OUTPUTS[subcommand]))
    assert checked or not any(_faceswap_arguments(command) for d, command in COMMANDS if d == document)


def test_the_documents_hold_commands():
    assert len(COMMANDS) >= 15
    assert any(command == "scripts/run_service.sh" for _, command in COMMANDS)
    assert any(command == "scripts/run_tests.sh" for _, command in COMMANDS)


@pytest.mark.parametrize("document,command", COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS])
def test_documented_command_is_exercised(document, command, tmp_path):
    words = shlex.split(command)
    if words[0] in CLOUD_TOOLS:
        check_cloud_command(document, command, words)
        return
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
    if words[0] == MAKE_DEFAULT_MODEL:   # trains for hours: run for real on two iterations by its own test
        assert (REPO_ROOT / words[0]).is_file() and all(word.isdigit() for word in words[1:2]), command
        assert "make_default_model.sh" in (REPO_ROOT / "tests/scripts/test_make_default_model.py").read_text()
        return
    arguments = _python_words(words)
    assert arguments is not None, f"{document}: unknown kind of command {command!r}: exercise it in this test"
    if arguments[:2] == ["-m", "faceswap"]:
        from faceswap.cli import build_parser

        subcommand = next(word for word in arguments[2:] if not word.startswith("-"))
        parsed = build_parser(only=subcommand).parse_args(arguments[2:])
        assert parsed.command == subcommand
        for word in arguments[2:]:   # the sample data it names is there (workflow order: the test above)
            if word.startswith("../shared/data/"):
                assert (REPO_ROOT / word).exists(), f"{document}: {word} does not exist"
        if subcommand == "make-dev-cert":   # cheap: run it for real, into a scratch folder
            folder = tmp_path / "c2pa-dev"
            real = [folder if word == parsed.folder else word for word in arguments]
            result = subprocess.run([sys.executable, *map(str, real)], cwd=REPO_ROOT, capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stderr
            later = [word for _, other in COMMANDS for word in shlex.split(other) if word.startswith(parsed.folder + "/")]
            assert later, f"{document}: nothing uses the credentials that make-dev-cert makes"
            for word in later:   # the files the later commands name are the ones it made
                assert (folder / Path(word).relative_to(parsed.folder)).is_file(), word
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
            arguments = [*arguments, "--dry-run"]   # the same deployment, planned without running it
        result = subprocess.run([sys.executable, *arguments], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert "$ gcloud app deploy" in result.stdout
        return
    if arguments[0] == "setup.py":
        assert arguments[1] == "sdist"   # built and installed for real in tests/prediction_routine/test_package.py
        assert '"setup.py", "-q", "sdist"' in (REPO_ROOT / "tests/prediction_routine/test_package.py").read_text()
        return
    if arguments[0] == "manage.py":
        assert arguments[1] == "collectstatic"   # run for real in tests/client_app/test_django_page.py
        assert 'run_manage("collectstatic", "--noinput"' in (REPO_ROOT / "tests/client_app/test_django_page.py").read_text()
        return
    if arguments[0].startswith("scripts/") and arguments[0].endswith(".py"):   # benchmarks, GPU training
        result = subprocess.run([sys.executable, arguments[0], "--help"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        own = arguments[1:arguments.index("--")] if "--" in arguments else arguments[1:]   # after `--`: passed on
        for option in (w.strip("[]").split("=")[0] for w in own if w.strip("[]").startswith("--")):
            assert option in result.stdout, f"{option} is not an option of {arguments[0]}"
        return
    pytest.fail(f"{document}: unknown command {command!r}: exercise it in this test")
