"""Helpers for the client_app tests: run manage.py / Python in client_app/ with a chosen environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_APP = REPO_ROOT / "client_app"

# In-process Django reads these once, when its settings module is first imported.
TEST_WEBSOCKET_URL = "ws://relay.test.invalid:9443/stream"
TEST_ALLOWED_HOSTS = "page.test.invalid,testserver"
TEST_SESSION_SECRET = "test-only-session-secret-" + "s" * 32


def client_app_environment(**overrides: str | None) -> dict[str, str]:
    """The process environment for a client_app subprocess; ``None`` removes a variable."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FACESWAP_WEBSOCKET", "FACESWAP_SESSION"))}
    environment["PYTHONPATH"] = str(CLIENT_APP)
    for name, value in overrides.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


def run_manage(*arguments: str, **environment: str | None) -> subprocess.CompletedProcess:
    """``python manage.py ARGUMENTS`` in client_app/ with the given environment."""
    return subprocess.run([sys.executable, "manage.py", *arguments], cwd=CLIENT_APP,
                          env=client_app_environment(**environment), capture_output=True, text=True, timeout=120)


def run_python(code: str, **environment: str | None) -> subprocess.CompletedProcess:
    """``python -c CODE`` in client_app/ with the given environment."""
    return subprocess.run([sys.executable, "-c", code], cwd=CLIENT_APP, env=client_app_environment(**environment),
                          capture_output=True, text=True, timeout=120)
