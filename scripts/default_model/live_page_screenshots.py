"""Screenshots of the live webcam page swapping held-out clips with the default model (docs/default-model.md).

    .venv/bin/python scripts/default_model/live_page_screenshots.py                 # d12, d18, v25, v26
    .venv/bin/python scripts/default_model/live_page_screenshots.py --clips d12 --output-dir /tmp/shots

Starts the real stack exactly as the README's run command does (``scripts/run_service.py``, what
``scripts/run_service.sh`` hands over to, here on free loopback ports and ``--model-dir
models/default``), then for each clip: makes a 640x480 ``.y4m`` fake webcam from
``../shared/data/clips/<clip>.mp4`` or ``../shared/data/faces/videos/<clip>.mp4`` (or a clip's path;
scripts/browser_webcam.py), opens the page in Debian Chromium
through Playwright, ticks the consent, presses Start, waits until merged frames with a face arrive
and the HUD shows frames per second, and saves the page's video area (camera and swapped view side
by side, with the page's "AI-generated" label) as ``<output-dir>/live-page-<clip>.png``, scaled down
until it fits ``--max-kb``. Finally it stops the stack with SIGTERM, as Ctrl-C would, and checks
that it said "Stopped." and exited with 0. Prints one JSON line per clip (HUD figures, load average).

d12, d18, v25 and v26 are held out of the default model's training (docs/default-model.md), so the
pictures show the model on faces it has never seen. The ``.y4m`` files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.browser_webcam import give_consent_and_start, launch_chromium, make_fake_webcam  # noqa: E402

CLIPS_DIRS = (REPO_ROOT.parent / "shared" / "data" / "clips", REPO_ROOT.parent / "shared" / "data" / "faces" / "videos")
READY_LINE = re.compile(r"Face-swap service is up: open (\S+)")

# A merged frame is on screen: the relay answered "ok" with a face, and the HUD counts fps.
SWAPPING = """(minimum) => {
  const hud = document.getElementById('hud').dataset;
  return document.getElementById('swapped-figure').dataset.result === 'ok'
    && Number(hud.faces) >= 1 && Number(hud.fps) > 0 && Number(hud.framesReceived) >= minimum;
}"""


class ServiceProcess:
    """``scripts/run_service.py`` as a child process: started, waited for, stopped with SIGTERM."""

    def __init__(self, model_dir: Path, startup_timeout_s: float):
        self.model_dir = model_dir
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []

    def start(self) -> str:
        """Start the stack; return the page URL it prints. Raises RuntimeError if it never comes up."""
        command = [sys.executable, str(REPO_ROOT / "scripts" / "run_service.py"),
                   "--prediction-port", "0", "--relay-port", "0", "--page-port", "0",
                   "--model-dir", str(self.model_dir)]
        print("starting:", " ".join(command), file=sys.stderr, flush=True)
        self.process = subprocess.Popen(command, cwd=str(REPO_ROOT), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("run_service.py exited before the stack was up:\n" + "".join(self.output))
            match = READY_LINE.search(line)
            if match:
                return match.group(1)
        raise RuntimeError(f"the stack was not up within {self.startup_timeout_s:.0f} s:\n" + "".join(self.output))

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            sys.stderr.write("  | " + line)
            self.lines.put(line)
        self.lines.put(None)

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM (what run_service.py treats like Ctrl-C); returns its exit code.

        If it does not exit in ``timeout_s`` its process group is killed and RuntimeError raised.
        """
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise RuntimeError(f"run_service.py did not stop within {timeout_s:.0f} s after SIGTERM; killed it")
        time.sleep(0.2)   # let the reader thread take the last lines
        if not any(line.strip() == "Stopped." for line in self.output):
            raise RuntimeError("run_service.py exited without saying 'Stopped.':\n" + "".join(self.output[-20:]))
        return code


def fit_png(path: Path, max_kb: int) -> tuple[int, int]:
    """Re-save the PNG at ``path`` smaller (INTER_AREA steps of 0.85) until it is at most ``max_kb``.

    Returns the final (width, height) in pixels.
    """
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)   # BGR uint8 (H, W, 3)
    if image is None:
        raise RuntimeError(f"{path} is not a readable PNG")
    scale = 1.0
    while True:
        height, width = image.shape[:2]
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = image if scale == 1.0 else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".png", resized, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if not ok:
            raise RuntimeError(f"could not encode {path} as PNG")
        if len(encoded) <= max_kb * 1024 or scale < 0.2:
            path.write_bytes(encoded.tobytes())
            return resized.shape[1], resized.shape[0]
        scale *= 0.85


def clip_source(clip: str) -> Path:
    """A clip's path: ``clip`` itself when it is a file, else ``<clip>.mp4`` in ../shared/data/clips or
    ../shared/data/faces/videos; FileNotFoundError naming where it was looked for."""
    if Path(clip).is_file():
        return Path(clip)
    for folder in CLIPS_DIRS:
        if (folder / f"{clip}.mp4").is_file():
            return folder / f"{clip}.mp4"
    raise FileNotFoundError(f"{clip}: no such clip, nor {clip}.mp4 in {' or '.join(str(f) for f in CLIPS_DIRS)} "
                            f"(see ../shared/data/MANIFEST.md)")


def screenshot_clip(playwright, page_url: str, clip: str, output_dir: Path, work_dir: Path,
                    arguments: argparse.Namespace) -> dict:
    """One clip as the webcam: start swapping, wait for merged frames, save the video area as PNG."""
    source = clip_source(clip)
    clip = source.stem
    webcam = make_fake_webcam(source, work_dir / f"{clip}-640x480.y4m", seconds=arguments.webcam_seconds)
    browser = launch_chromium(playwright, webcam)
    try:
        context = browser.new_context(viewport={"width": arguments.viewport_width, "height": 1000},
                                      device_scale_factor=1)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        give_consent_and_start(page, page_url)
        target = output_dir / f"live-page-{clip}.png"
        for attempt in range(arguments.attempts):
            page.wait_for_function(SWAPPING, arg=arguments.min_frames, timeout=arguments.frame_timeout_s * 1000)
            page.locator(".views").screenshot(path=str(target), animations="disabled")
            still_swapping = page.evaluate(SWAPPING, arguments.min_frames)
            if still_swapping:
                break   # the frame on the screenshot is a merged one with a face
            print(f"{clip}: frame changed to an unswapped one during the screenshot; again "
                  f"({attempt + 1}/{arguments.attempts})", file=sys.stderr, flush=True)
        else:
            raise RuntimeError(f"{clip}: no screenshot of a merged frame in {arguments.attempts} attempts")
        hud = page.evaluate("() => Object.assign({}, document.getElementById('hud').dataset)")
        ai_label = page.locator("#ai-label")
        if not ai_label.is_visible() or ai_label.inner_text().strip().lower() != "ai-generated":
            raise RuntimeError(f"{clip}: the page's AI-generated label is not visible")
        page.get_by_role("button", name="Stop face swap and turn the camera off").click()
        context.close()
        if errors:
            raise RuntimeError(f"{clip}: the page raised errors: {errors}")
    finally:
        browser.close()
    width, height = fit_png(target, arguments.max_kb)
    return {"clip": clip, "screenshot": str(target.relative_to(REPO_ROOT) if target.is_relative_to(REPO_ROOT)
                                             else target),
            "png_kb": round(target.stat().st_size / 1024, 1), "png_size": [width, height],
            "fps": float(hud.get("fps", 0)), "latency_ms": float(hud.get("latencyMs") or 0),
            "frames_received": int(hud.get("framesReceived", 0)), "faces": int(hud.get("faces", 0)),
            "load_average": [round(value, 2) for value in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["d12", "d18", "v25", "v26"],
                        help="clip names under ../shared/data/clips or faces/videos, or clip paths (default: "
                             "d12 d18 v25 v26, held out of training)")
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models" / "default",
                        help="exported model the stack serves (default: models/default)")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "docs" / "images",
                        help="where live-page-<clip>.png goes (default: docs/images)")
    parser.add_argument("--max-kb", type=int, default=380, help="largest PNG, KiB (scaled down to fit)")
    parser.add_argument("--viewport-width", type=int, default=1100,
                        help="browser width in CSS pixels; the two views share it side by side")
    parser.add_argument("--webcam-seconds", type=float, default=6.0, help="seconds of the clip the webcam loops")
    parser.add_argument("--min-frames", type=int, default=6, help="merged frames to receive before the screenshot")
    parser.add_argument("--attempts", type=int, default=5, help="tries to catch a merged frame with a face")
    parser.add_argument("--frame-timeout-s", type=float, default=180.0,
                        help="how long to wait for merged frames per attempt, seconds")
    parser.add_argument("--startup-timeout-s", type=float, default=300.0,
                        help="how long the stack may take to come up, seconds")
    arguments = parser.parse_args(argv)
    if not (arguments.model_dir / "manifest.json").is_file():
        print(f"error: {arguments.model_dir} has no manifest.json: pass an exported model folder", file=sys.stderr)
        return 2
    arguments.output_dir.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    service = ServiceProcess(arguments.model_dir, arguments.startup_timeout_s)
    failed = False
    try:
        page_url = service.start()
        with tempfile.TemporaryDirectory(prefix="live-page-") as work, sync_playwright() as playwright:
            for clip in arguments.clips:
                print(json.dumps(screenshot_clip(playwright, page_url, clip, arguments.output_dir, Path(work),
                                                 arguments)), flush=True)
    except Exception as error:   # report, still stop the stack below
        print(f"error: {error}", file=sys.stderr, flush=True)
        failed = True
    finally:
        code = service.stop()
        print(f"run_service.py stopped with exit code {code}", file=sys.stderr, flush=True)
    return 1 if failed or code != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
