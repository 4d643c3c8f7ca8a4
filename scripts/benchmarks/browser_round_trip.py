"""End-to-end benchmark: the webcam page in headless Chromium against the whole local stack.

A clip plays as Chromium's webcam (640x480); the page sends JPEG frames through the relay to the
local prediction server and draws the answers, one frame in flight, exactly as for a user.
Prints one JSON object: frames per second drawn on the swapped canvas, round-trip latency
(browser send -> merged frame back, ms: p50, p95, max), frames sent/received/dropped, and the last
status. Without a prediction server (``--no-prediction-server``) it measures page + relay alone
(degraded answers).

    .venv/bin/python scripts/benchmarks/browser_round_trip.py --model-dir models/default --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.browser_webcam import give_consent_and_start, launch_chromium, make_fake_webcam  # noqa: E402
from scripts.run_service import LocalStack, StackSettings  # noqa: E402

SHARED_DATA = Path(os.environ.get("FACESWAP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

READ_HUD = "() => Object.assign({}, document.getElementById('hud').dataset)"


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))], 1)


def measure(stack: LocalStack, webcam: Path, seconds: float, warmup_seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, webcam)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            give_consent_and_start(page, stack.page_url)
            page.wait_for_function("() => Number(document.getElementById('hud').dataset.framesReceived) >= 1",
                                   timeout=180_000)
            time.sleep(warmup_seconds)
            before = page.evaluate(READ_HUD)
            started = time.perf_counter()
            time.sleep(seconds)
            after = page.evaluate(READ_HUD)
            elapsed = time.perf_counter() - started
            latencies = page.evaluate("() => window.faceswapClient.recentLatenciesMs()")
            status = page.locator("#status-text").inner_text()
        finally:
            browser.close()
    # The page keeps the newest 600 round trips; the last `received` of them are this measurement's.
    received = int(after["framesReceived"]) - int(before["framesReceived"])
    measured = latencies[-received:] if received else []
    return {
        "fps": round(received / elapsed, 2),
        "latency_ms": {"p50": percentile(measured, 0.5), "p95": percentile(measured, 0.95),
                       "max": round(max(measured), 1) if measured else None,
                       "mean": round(statistics.fmean(measured), 1) if measured else None},
        "frames_sent": int(after["framesSent"]) - int(before["framesSent"]),
        "frames_received": received,
        "frames_dropped": int(after["framesDropped"]) - int(before["framesDropped"]),
        "seconds": round(elapsed, 2),
        "faces_last_frame": int(after["faces"]),
        "status": after["status"],
        "status_text": status,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="exported model to serve (default: models/default or the stand-in test model)")
    parser.add_argument("--clip", default="d9", help="clip of ../shared/data/clips used as the webcam (default: d9)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement length (default: 20)")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="time after the first frame before measuring")
    parser.add_argument("--no-prediction-server", action="store_true",
                        help="measure page + relay alone (the relay answers degraded)")
    arguments = parser.parse_args(argv)

    clip = SHARED_DATA / "clips" / f"{arguments.clip}.mp4"
    if not clip.is_file():
        print(f"error: clip {clip} does not exist", file=sys.stderr)
        return 2
    settings = StackSettings(prediction_port=0, relay_port=0, page_port=0,
                             start_prediction_server=not arguments.no_prediction_server)
    with tempfile.TemporaryDirectory(prefix="faceswap-browser-benchmark-") as folder:
        webcam = make_fake_webcam(clip, Path(folder) / "webcam.y4m", seconds=5.0)
        with LocalStack(settings, model_dir=arguments.model_dir) as stack:
            result = measure(stack, webcam, arguments.seconds, arguments.warmup_seconds)
            model = str(stack.model_dir) if stack.model_dir else None
            stand_in = stack.uses_stand_in_model
    report = {
        "benchmark": "browser_round_trip",
        "clip": arguments.clip,
        "frame_size": [640, 480],
        "model_dir": model,
        "stand_in_model": stand_in,
        "prediction_server": not arguments.no_prediction_server,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        **result,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
