"""Run every component benchmark and write one JSON, docs/performance.md and a latency plot.

Components (each a script in this folder that prints JSON): extraction, training it/s and
inference per face (training_benchmark.py), the per-frame swap pipeline (swap_benchmark.py),
the prediction routine in-process and through the local server (routine_benchmark.py), and the
end-to-end stream through the whole local stack from 1, 2 and 4 clients (stream_benchmark.py).

    .venv/bin/python scripts/benchmarks/run_all.py --model-dir models/default

Takes ~15-25 minutes on 2 cores. Outputs: docs/performance.json, docs/performance.md,
docs/performance-latency.png (override with --output-dir). Run it on a quiet machine: every
number is wall-clock time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = Path(__file__).resolve().parent


def run_benchmark(script: str, *arguments: str, timeout_s: float = 3600) -> dict:
    """Run one benchmark script; its last JSON object on stdout is the result."""
    command = [sys.executable, str(BENCHMARKS / script), *arguments]
    print(f"running {script} {' '.join(arguments)}", file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2"})
    if result.returncode != 0:
        return {"error": f"exit {result.returncode}", "stderr": result.stderr[-2000:]}
    text = result.stdout
    start = text.find("{")
    return json.loads(text[start:]) if start >= 0 else {"error": "no JSON printed", "stdout": text[-2000:]}


def _get(data: dict, *path, default=None):
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and len(data) > key:
            data = data[key]
        else:
            return default
    return data


def _fmt(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def markdown(report: dict) -> str:
    lines = [
        "# Performance",
        "",
        f"Measured {report['date']} on {report['machine']} ({report['cpu_count']} CPU cores, no GPU) with "
        f"`scripts/benchmarks/run_all.py --model-dir {report['model_dir']}`. Wall-clock times; "
        "640x480 frames from `../shared/data/clips/d9.mp4`. Raw numbers: `performance.json`.",
        "",
        "| component | measure | value | goal |",
        "|---|---|---|---|",
    ]
    extraction = report["components"].get("extraction", {})
    lines.append(f"| extraction | frames/s (detect + landmarks + align + PNG) | {_fmt(extraction.get('extract_frames_per_second'))} | |")
    lines.append(f"| detection | per-frame detector, p50 ms | {_fmt(_get(extraction, 'detector_640x480', 'p50_ms'))} | |")
    lines.append(f"| detection | per-stream tracker (live path), p50 ms | {_fmt(_get(extraction, 'tracker_640x480', 'p50_ms'))} | |")
    training = report["components"].get("training", {})
    for entry in training.get("training", []) or []:
        if isinstance(entry, dict) and "prefetch" in entry:
            goal = "2x the 20.5 M baseline (1.7)" if entry.get("config") == "lite" else ""
            lines.append(f"| training `{entry['config']}` ({entry.get('variant')}) | it/s, batch 16 per side: "
                         f"train command (prefetch) / step alone | {_fmt(_get(entry, 'prefetch', 'median_it_per_s'), 2)} / "
                         f"{_fmt(_get(entry, 'step_only', 'median_it_per_s'), 2)} | {goal} |")
    for entry in training.get("inference", []) or []:
        if isinstance(entry, dict):
            for backend in sorted(key for key, value in entry.items() if isinstance(value, dict) and "p50_ms" in value):
                lines.append(f"| inference `{entry.get('config')}` | {backend} ms per face (batch 1), p50 | "
                             f"{_fmt(_get(entry, backend, 'p50_ms'), 2)} | |")
    swap = report["components"].get("swap", {})
    lines.append(f"| swap pipeline | live path total, p50 / p95 ms | {_fmt(_get(swap, 'live_tracker', 'ms', 'total', 'p50'))} / "
                 f"{_fmt(_get(swap, 'live_tracker', 'ms', 'total', 'p95'))} | |")
    routine = _get(report["components"].get("routine", {}), "results", 0, default={}) or {}
    lines.append(f"| prediction routine | in-process predict, p50 / p95 ms | "
                 f"{_fmt(_get(routine, 'in_process', 'predict_call_ms', 'p50'))} / "
                 f"{_fmt(_get(routine, 'in_process', 'predict_call_ms', 'p95'))} | p50 <= 20 |")
    lines.append(f"| prediction routine | through the local server, p50 / p95 ms | "
                 f"{_fmt(_get(routine, 'server', 'round_trip_ms', 'p50'))} / "
                 f"{_fmt(_get(routine, 'server', 'round_trip_ms', 'p95'))} | |")
    stream = report["components"].get("stream", {})
    for run in stream.get("runs", []):
        cpu = ", ".join(f"{name} {value:.0f}%" for name, value in run.get("cpu_percent_of_one_core", {}).items())
        per_frame = ", ".join(f"{name} {value:.1f}" for name, value in
                              (run.get("cpu_ms_per_merged_frame") or {}).items() if value)
        load = _get(run, "load_average_before_after", 0, 0)
        workers = f", {run['prediction_workers']} workers x threads" if run.get("prediction_workers") else ""
        goal = ">= 30 fps, p95 <= 16, <= 17 ms CPU/frame" if run["clients"] == 1 else ""
        lines.append(f"| end-to-end stream, {run['clients']} client(s){workers} | fps per client; round trip p50 / p95 "
                     f"ms; CPU; CPU ms per merged frame; load | {_fmt(run.get('fps_per_client'))}; "
                     f"{_fmt(_get(run, 'latency_ms', 'p50'))} / {_fmt(_get(run, 'latency_ms', 'p95'))}; {cpu}; "
                     f"{per_frame}; {_fmt(load, 2)} | {goal} |")
    lines += ["", "Per-stage timings of the prediction routine (p50 ms, in-process):", ""]
    stages = _get(routine, "in_process", "stages_ms", default={}) or {}
    if stages:
        lines.append("| " + " | ".join(stages) + " |")
        lines.append("|" + "---|" * len(stages))
        lines.append("| " + " | ".join(_fmt(_get(value, "p50"), 2) for value in stages.values()) + " |")
    cpu_stages = _get(routine, "in_process", "stage_cpu_ms_per_frame", default={}) or {}
    if cpu_stages.get("stages"):
        lines += ["", "CPU ms per frame by stage (in-process; sum against the measured process CPU):", ""]
        names = list(cpu_stages["stages"]) + ["sum", "measured"]
        lines.append("| " + " | ".join(names) + " |")
        lines.append("|" + "---|" * len(names))
        values = list(cpu_stages["stages"].values()) + [cpu_stages["sum"], cpu_stages["measured_process"]]
        lines.append("| " + " | ".join(_fmt(value, 2) for value in values) + " |")
    lines += ["", "![round-trip latency distribution](performance-latency.png)", ""]
    return "\n".join(lines)


HAND_WRITTEN_MARKER = "<!-- written by hand from here on: run_all.py keeps it -->"


def kept_by_hand(path: Path) -> str:
    """The hand-written part of an existing performance.md (from HAND_WRITTEN_MARKER on), or ''."""
    try:
        text = path.read_text()
    except OSError:
        return ""
    position = text.find(HAND_WRITTEN_MARKER)
    return "\n" + text[position:] if position >= 0 else ""


def plot_latency(samples: dict[str, list[float]], routine: dict, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    for clients, values in sorted(samples.items(), key=lambda item: int(item[0])):
        if values:
            axis.hist(values, bins=60, range=(0, max(200, min(400, max(values)))), histtype="step", linewidth=1.6,
                      label=f"{clients} client(s): p50 {sorted(values)[len(values) // 2]:.0f} ms")
    axis.axvline(60, color="grey", linestyle="--", linewidth=1)
    axis.text(61, axis.get_ylim()[1] * 0.9, "p95 goal (1 client)", color="grey", fontsize=8)
    axis.set_xlabel("round-trip latency, browser protocol -> relay -> routine -> back (ms)")
    axis.set_ylabel("frames")
    axis.set_title("End-to-end latency on 2 CPU cores, 640x480 frames")
    axis.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=str(REPO_ROOT / "models" / "default"), help="exported model to serve")
    parser.add_argument("--output-dir", default=str(REPO_ROOT / "docs"), help="where the JSON, table and plot go")
    parser.add_argument("--quick", action="store_true", help="fewer frames and steps (a smoke run, not for the docs)")
    args = parser.parse_args(argv)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    frames = "30" if args.quick else "120"
    with tempfile.TemporaryDirectory() as scratch:
        samples_path = Path(scratch) / "samples.json"
        components = {
            "extraction": run_benchmark("extraction_benchmark.py", "--frames", frames),
            "training": run_benchmark("training_benchmark.py",
                                      *(["--quick"] if args.quick else ["--variants", "default"])),
            "swap": run_benchmark("swap_benchmark.py", args.model_dir, "--frames", frames),
            "routine": run_benchmark("routine_benchmark.py", args.model_dir, "--frames", "30" if args.quick else "100"),
            "stream": run_benchmark("stream_benchmark.py", "--model-dir", args.model_dir, "--clients",
                                    "1" if args.quick else "1,2,3,4,5", "--seconds", "3" if args.quick else "10",
                                    "--prediction-workers", "2" if args.quick else "1,2",
                                    "--hold-streams", "4" if args.quick else "16",
                                    "--samples-output", str(samples_path)),
        }
        samples = json.loads(samples_path.read_text()) if samples_path.exists() else {}
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.system()} {platform.machine()}",
        "cpu_count": os.cpu_count(),
        "model_dir": os.path.relpath(args.model_dir, REPO_ROOT),
        "components": components,
    }
    (output / "performance.json").write_text(json.dumps(report, indent=1) + "\n")
    (output / "performance.md").write_text(markdown(report) + kept_by_hand(output / "performance.md"))
    plot_latency(samples, components["routine"], output / "performance-latency.png")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
