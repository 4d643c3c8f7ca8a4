"""Headless Debian Chromium with a video clip as its webcam, for browser tests and benchmarks.

Chromium's fake capture device plays a ``.y4m`` file in a loop; ``make_fake_webcam`` converts a
clip (e.g. ../shared/data/clips/d9.mp4) to one with the ffmpeg binary that imageio-ffmpeg ships,
scaled to fill the page's 640x480 capture size and cropped to it, as a 4:3 webcam frames a scene
(a square clip loses its top and bottom eighth; faces are never stretched). Playwright drives the system browser at
/usr/bin/chromium; it never downloads a browser of its own.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def make_fake_webcam(clip: Path, target: Path, seconds: float = 3.0, width: int = 640, height: int = 480,
                     fps: int = 30) -> Path:
    """Write the first ``seconds`` of ``clip`` to ``target`` (.y4m, ``width`` x ``height``, yuv420p): scaled
    with its aspect ratio kept until it covers the frame, then centre-cropped to it."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(clip), "-t", str(seconds),
               "-vf", f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1,fps={fps}", "-pix_fmt", "yuv420p", str(target)]
    subprocess.run(command, check=True, timeout=300)
    return target


def chromium_arguments(fake_webcam: Path) -> list[str]:
    """Command-line switches: fake camera from ``fake_webcam`` with permission granted, headless, quiet."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={fake_webcam}",
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]


def launch_chromium(playwright, fake_webcam: Path):
    """A Playwright Browser on /usr/bin/chromium with ``fake_webcam`` as its camera."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_arguments(fake_webcam))


def give_consent_and_start(page, url: str) -> None:
    """Open the webcam page, accept the consent notice and press Start."""
    page.goto(url)
    page.get_by_label("I understand the output is synthetic").check()
    page.get_by_role("button", name="Agree and continue").click()
    page.get_by_role("button", name="Start camera and face swap").click()
