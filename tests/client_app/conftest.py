"""Fixtures for the webcam page: an in-process Django configured from the environment, a fake
webcam (.y4m made from a real clip), a headless Debian Chromium driven by Playwright, and the
whole local stack on free ports.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scripts.browser_webcam import CHROMIUM, launch_chromium, make_fake_webcam
from tests.client_app.client_app_helpers import (CLIENT_APP, TEST_ALLOWED_HOSTS, TEST_SESSION_SECRET,
                                                 TEST_WEBSOCKET_URL)


@pytest.fixture(scope="session")
def django_client():
    """A django.test.Client for client_app, configured like production (DEBUG off, env settings).

    The environment is set only while Django reads its settings, then restored for other tests.
    """
    if str(CLIENT_APP) not in sys.path:
        sys.path.insert(0, str(CLIENT_APP))
    import django
    from django.conf import settings
    from django.test import Client

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SETTINGS_MODULE", "facedetect.settings")
        patch.setenv("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x" * 40)
        patch.setenv("DJANGO_DEBUG", "0")
        patch.setenv("DJANGO_ALLOWED_HOSTS", TEST_ALLOWED_HOSTS)
        patch.setenv("FACESWAP_WEBSOCKET_URL", TEST_WEBSOCKET_URL)
        patch.setenv("FACESWAP_SESSION_SECRET", TEST_SESSION_SECRET)
        django.setup()
        assert settings.FACESWAP_WEBSOCKET_URL == TEST_WEBSOCKET_URL
    return Client()


@pytest.fixture(scope="session")
def fake_webcam(tmp_path_factory, clip_path) -> Path:
    """d9.mp4 as a 640x480, 3 s .y4m file for Chromium's fake capture device."""
    target = make_fake_webcam(clip_path("d9"), tmp_path_factory.mktemp("webcam") / "d9-640x480.y4m")
    assert target.stat().st_size > 640 * 480 * 3 // 2 * 60
    return target


@pytest.fixture(scope="module")
def browser(fake_webcam):
    """Headless Debian Chromium (never a Playwright-downloaded build) with the clip as its webcam."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, fake_webcam)
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
