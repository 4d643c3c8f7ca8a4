"""Fixtures for the webcam page: an in-process Django configured from the environment, a fake
webcam (.y4m made from a real clip), a headless Debian Chromium driven by Playwright, and the
whole local stack on free ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client_app.client_app_helpers import CLIENT_APP, TEST_ALLOWED_HOSTS, TEST_WEBSOCKET_URL

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def django_client():
    """A django.test.Client for client_app, configured like production (DEBUG off, env settings)."""
    if str(CLIENT_APP) not in sys.path:
        sys.path.insert(0, str(CLIENT_APP))
    os.environ["DJANGO_SETTINGS_MODULE"] = "facedetect.settings"
    os.environ["DJANGO_SECRET_KEY"] = "test-only-secret-key-" + "x" * 40
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DJANGO_ALLOWED_HOSTS"] = TEST_ALLOWED_HOSTS
    os.environ["FACESWAP_WEBSOCKET_URL"] = TEST_WEBSOCKET_URL
    import django
    from django.test import Client

    django.setup()
    return Client()


@pytest.fixture(scope="session")
def fake_webcam(tmp_path_factory, clip_path) -> Path:
    """d9.mp4 as a 640x480, 3 s .y4m file for Chromium's fake capture device."""
    import imageio_ffmpeg

    target = tmp_path_factory.mktemp("webcam") / "d9-640x480.y4m"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(clip_path("d9")),
               "-t", "3", "-vf", "scale=640:480,fps=30", "-pix_fmt", "yuv420p", str(target)]
    subprocess.run(command, check=True, timeout=120)
    assert target.stat().st_size > 640 * 480 * 3 // 2 * 60
    return target


def chromium_arguments(fake_webcam: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={fake_webcam}",
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]


@pytest.fixture(scope="module")
def browser(fake_webcam):
    """Headless Debian Chromium (never a Playwright-downloaded build) with the clip as its webcam."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_arguments(fake_webcam))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console_messages.append(f"pageerror: {error}"))
    try:
        yield page
    finally:
        context.close()
