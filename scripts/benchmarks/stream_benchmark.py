"""End-to-end stream benchmark: webcam-like clients -> relay -> prediction server -> back.

Streams 640x480 JPEG frames of a shared clip (d9.mp4, scaled to cover 640x480 and centre-cropped)
through the whole local stack from 1, 2 and 4 concurrent WebSocket clients. Each client behaves
like the webcam page: a camera produces a frame every 1/30 s; at most one frame is in flight; when
the answer arrives the newest captured frame is sent (older captured frames are skipped, latest
frame wins on the client side too).

Prints one JSON object: per run, frames per second per client, round-trip latency p50/p95
(send -> result received), fairness between clients, result statuses, frames dropped by the relay
and skipped by the client, the routine's and relay's own timings, the machine's load average
before and after, and per server process group (from /proc): CPU use, **CPU ms per merged
frame** and resident memory. The prediction server reports the CPU of every stage of every frame
(FACESWAP_ROUTINE_REPORT_CPU): decode, base64, detect/track, align, model, colour, blend, mark,
encode, JSON, HTTP; the run prints their sum per frame next to the server's measured CPU per frame
(``accounted_share``: 1.0 = nothing unaccounted, e.g. no thread spinning unseen). The 2 cores are
shared and noisy: compare CPU per frame, not wall-clock fps, between runs.

With ``--prediction-workers 1,2`` the whole series runs once per worker count (a fresh stack each);
``--hold-streams 16`` then opens that many streams at once and reports the prediction server's
and the relay's resident memory with them held (per-stream state and per-connection cost).
Goal on a 2-core machine: one client at >= 30 fps with p95 <= 60 ms.

    .venv/bin/python scripts/benchmarks/stream_benchmark.py                       # starts the stack
    .venv/bin/python scripts/benchmarks/stream_benchmark.py --model-dir models/default --seconds 20
    .venv/bin/python scripts/benchmarks/stream_benchmark.py --clients 1,2,3,4,5 --prediction-workers 1,2
    .venv/bin/python scripts/benchmarks/stream_benchmark.py --websocket-url ws://127.0.0.1:8001/stream \
        --page-url http://127.0.0.1:8000/

Without --websocket-url it starts the prediction server and the relay (and the page) itself with
scripts/run_service.py's LocalStack on free ports, serving --model-dir (default models/default,
else the stand-in test model) and stops them afterwards. Every client gets its session token from
the page (``POST /session-token`` with consent), as the browser does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import socket
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import websocket  # noqa: E402

from scripts.benchmarks.sample_frames import FRAME_SIZE, clip_jpegs  # noqa: E402
from websocket_server.frame_protocol import pack_message, unpack_message  # noqa: E402

GOAL = {"clients": 1, "fps_per_client": 30.0, "latency_p95_ms": 60.0}
PREDICTION_GROUP = "prediction server"   # LocalStack's tier name; --server-pids uses the same key


@dataclass
class ClientStats:
    """What one client saw during the measured window."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)
    camera_frames: int = 0
    skipped_by_client: int = 0
    relay_dropped: int = 0
    reasons: set[str] = field(default_factory=set)


def connected_socket(url: str, source_address: str) -> socket.socket:
    """A TCP socket to ``url``'s host and port, bound to ``source_address`` (e.g. 127.0.0.11).

    The relay's per-address limits (issue 12: connections, messages per second, routine calls)
    treat one address as one user; clients of this benchmark stand for different users, so on
    loopback each gets its own address of 127.0.0.0/8."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=30,
                                    source_address=(source_address, 0))
    return sock


def client_address(url: str, index: int) -> str | None:
    """Client ``index``'s own loopback source address when the relay is on loopback, else None."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return f"127.0.0.{10 + index}" if host.startswith("127.") or host == "localhost" else None


class CameraClient:
    """One webcam-like client: a 30 fps camera thread and a receiver thread on one WebSocket."""

    def __init__(self, url: str, frames: list[bytes], camera_fps: float, offset: int, origin: str | None = None,
                 source_address: str | None = None):
        options = connection_options(origin)
        if source_address:   # each client from its own loopback address, as separate users would be
            options["socket"] = connected_socket(url, source_address)
        self.socket = websocket.create_connection(url, timeout=30, enable_multithread=True, **options)
        self.socket.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.frames = frames
        self.camera_interval = 1.0 / camera_fps
        self.offset = offset
        self.lock = threading.Lock()
        self.in_flight: tuple[int, float] | None = None
        self.captured: bytes | None = None
        self.seq = 0
        self.measuring = False
        self.stopping = False
        self.stats = ClientStats()

    def _send_locked(self, image: bytes) -> None:
        self.seq += 1
        self.in_flight = (self.seq, time.perf_counter())
        self.socket.send_binary(pack_message({"seq": self.seq, "direction": "a2b", "sent_at": time.time() * 1000},
                                             image))

    def camera(self, until: float) -> None:
        next_tick = time.perf_counter()
        index = self.offset
        while not self.stopping and next_tick < until:
            with self.lock:
                if self.measuring:
                    self.stats.camera_frames += 1
                    if self.captured is not None:
                        self.stats.skipped_by_client += 1
                self.captured = self.frames[index % len(self.frames)]
                index += 1
                if self.in_flight is None:
                    image, self.captured = self.captured, None
                    self._send_locked(image)
            next_tick += self.camera_interval
            time.sleep(max(0.0, next_tick - time.perf_counter()))

    def receive(self) -> None:
        while not self.stopping:
            try:
                opcode, data = self.socket.recv_data()
            except (websocket.WebSocketException, OSError):
                return
            arrived = time.perf_counter()
            if opcode != websocket.ABNF.OPCODE_BINARY:
                continue
            header, _ = unpack_message(data)
            with self.lock:
                if self.in_flight is None or header.get("seq") != self.in_flight[0]:
                    continue
                if self.measuring:
                    stats = self.stats
                    stats.latencies_ms.append((arrived - self.in_flight[1]) * 1000)
                    stats.statuses[header["status"]] = stats.statuses.get(header["status"], 0) + 1
                    stats.relay_dropped = header.get("dropped", 0)
                    if header.get("reason"):
                        stats.reasons.add(header["reason"][:200])
                    for name, value in (header.get("timings_ms") or {}).items():
                        stats.timings.setdefault(name, []).append(value)
                self.in_flight = None
                if self.captured is not None:
                    image, self.captured = self.captured, None
                    self._send_locked(image)

    def close(self) -> None:
        self.stopping = True
        try:
            self.socket.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass


def connection_options(origin: str | None) -> dict:
    """websocket-client handshake options: send ``origin``, or none at all (a non-browser client)."""
    return {"origin": origin} if origin else {"suppress_origin": True}


def session_url(url: str, page_url: str | None) -> str:
    """``url`` with a fresh session token from the page (``POST {page}session-token`` with consent, as
    the browser does after the visitor agreed); ``url`` itself when no page is given or the page
    hands out no token (no FACESWAP_SESSION_SECRET: local development)."""
    if not page_url:
        return url
    request = urllib.request.Request(page_url.rstrip("/") + "/session-token", data=json.dumps({"consent": True}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        token = json.loads(response.read()).get("token")
    return f"{url}{'&' if '?' in url else '?'}session={token}" if token else url


def _group_processes(leader_pids: dict[str, int]):
    """(group name, pid, /proc stat fields after the command) of every process in the named groups."""
    groups = {pid: name for name, pid in leader_pids.items()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) in groups:
            yield groups[int(fields[2])], int(entry.name), fields


def process_group_rss_mb(leader_pids: dict[str, int]) -> dict[str, float]:
    """Resident memory (MB) of all processes of each named process group, added up."""
    totals = {name: 0.0 for name in leader_pids}
    page = os.sysconf("SC_PAGE_SIZE")
    for name, _, fields in _group_processes(leader_pids):
        totals[name] += int(fields[21]) * page / 2**20
    return {name: round(value, 1) for name, value in totals.items()}


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (other jobs on the shared cores show here)."""
    return [round(value, 2) for value in os.getloadavg()]


def process_group_cpu_seconds(leader_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process in each named process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {name: 0.0 for name in leader_pids}
    for name, _, fields in _group_processes(leader_pids):
        totals[name] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": None, "p95": None, "mean": None}
    array = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(array, 50)), 2), "p95": round(float(np.percentile(array, 95)), 2),
            "mean": round(float(array.mean()), 2)}


CLIENTS_CPU = "benchmark clients"  # the CPU of this process, whose threads are the webcam clients


def run_clients(url: str, frames: list[bytes], clients: int, seconds: float, warmup_s: float, camera_fps: float,
                server_groups: dict[str, int], origin: str | None = None, page_url: str | None = None) -> dict:
    """Stream from ``clients`` concurrent clients; measure the window after ``warmup_s``."""
    load_before = load_average()
    connections = [CameraClient(session_url(url, page_url), frames, camera_fps, offset=index * 7, origin=origin,
                                source_address=client_address(url, index))
                   for index in range(clients)]
    start = time.perf_counter()
    until = start + warmup_s + seconds
    threads = []
    for connection in connections:
        threads.append(threading.Thread(target=connection.receive, daemon=True))
        threads.append(threading.Thread(target=connection.camera, args=(until,), daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(warmup_s)
    for connection in connections:
        with connection.lock:
            connection.measuring = True
    cpu_before = process_group_cpu_seconds(server_groups)
    cpu_before[CLIENTS_CPU] = time.process_time()  # this process: the clients' threads (one GIL)
    measured_from = time.perf_counter()
    time.sleep(max(0.0, until - time.perf_counter()))
    for connection in connections:
        with connection.lock:
            connection.measuring = False
    measured_s = time.perf_counter() - measured_from
    cpu_after = process_group_cpu_seconds(server_groups)
    cpu_after[CLIENTS_CPU] = time.process_time()
    time.sleep(0.3)
    for connection in connections:
        connection.close()

    per_client = []
    all_latencies: list[float] = []
    timings: dict[str, list[float]] = {}
    for connection in connections:
        stats = connection.stats
        results = sum(stats.statuses.values())
        all_latencies += stats.latencies_ms
        for name, values in stats.timings.items():
            timings.setdefault(name, []).extend(values)
        per_client.append({
            "fps": round(results / measured_s, 2),
            "latency_ms": summary(stats.latencies_ms),
            "results": results,
            "statuses": stats.statuses,
            "camera_frames": stats.camera_frames,
            "skipped_by_client": stats.skipped_by_client,
            "relay_dropped_since_connect": stats.relay_dropped,
            "reasons": sorted(stats.reasons)[:5],
        })
    merged = sum(client["results"] for client in per_client)
    rates = [client["fps"] for client in per_client]
    return {
        "clients": clients,
        "measured_s": round(measured_s, 2),
        "load_average_before_after": [load_before, load_average()],
        "fps_per_client": round(float(np.mean(rates)), 2),
        "merged_frames_per_s": round(merged / measured_s, 2),
        "fairness_min_over_max_fps": round(min(rates) / max(rates), 3) if max(rates) > 0 else None,
        "latency_ms": summary(all_latencies),
        "per_client": per_client,
        "timings_ms": {name: summary(values) for name, values in sorted(timings.items())},
        "cpu_percent_of_one_core": {name: round(100 * (cpu_after[name] - cpu_before[name]) / measured_s, 1)
                                    for name in [*server_groups, CLIENTS_CPU]},
        "cpu_ms_per_merged_frame": {name: round(1000 * (cpu_after[name] - cpu_before[name]) / merged, 2)
                                    if merged else None for name in server_groups},
        "stage_cpu_ms_per_frame": stage_breakdown(timings, cpu_after, cpu_before, merged),
        "rss_mb": process_group_rss_mb(server_groups),
        "_latency_samples_ms": [round(value, 2) for value in all_latencies],
    }


def stage_breakdown(timings: dict[str, list[float]], cpu_after: dict[str, float], cpu_before: dict[str, float],
                    merged: int) -> dict | None:
    """Mean CPU ms per frame of every stage the prediction server reported (``cpu_*`` timings), their
    sum, and that sum as a share of the server's CPU per merged frame measured from /proc."""
    stages = {name[len("cpu_"):]: round(float(np.mean(values)), 3)
              for name, values in sorted(timings.items()) if name.startswith("cpu_") and values}
    if not stages or not merged or PREDICTION_GROUP not in cpu_after:
        return None
    measured = 1000 * (cpu_after[PREDICTION_GROUP] - cpu_before[PREDICTION_GROUP]) / merged
    total = sum(stages.values())
    return {"stages": stages, "sum": round(total, 2), "measured_process": round(measured, 2),
            "accounted_share": round(total / measured, 3) if measured else None}


def hold_streams(url: str, frames: list[bytes], count: int, server_groups: dict[str, int],
                 page_url: str | None = None, frames_each: int = 5, origin: str | None = None) -> dict:
    """Open ``count`` streams at once, send each a few frames (every stream then holds its state in
    the routine and its connection in the relay) and report the resident memory with them held."""
    before = process_group_rss_mb(server_groups)
    connections = [websocket.create_connection(session_url(url, page_url), timeout=120, **connection_options(origin))
                   for _ in range(count)]
    try:
        for seq in range(frames_each):
            for index, connection in enumerate(connections):
                connection.send_binary(pack_message({"seq": seq, "direction": "a2b"},
                                                    frames[(seq + index * 7) % len(frames)]))
            for connection in connections:
                connection.recv_data()
        held = process_group_rss_mb(server_groups)
    finally:
        for connection in connections:
            connection.close()
    return {"streams": count, "rss_mb_before": before, "rss_mb_held": held,
            "rss_mb_per_stream": {name: round((held[name] - before[name]) / count, 2) for name in server_groups}}


def warm_up(url: str, frames: list[bytes], count: int = 10, origin: str | None = None) -> None:
    """Frames one after another until the routine has loaded and tracked a face."""
    connection = websocket.create_connection(url, timeout=120, **connection_options(origin))
    try:
        for seq in range(count):
            connection.send_binary(pack_message({"seq": seq, "direction": "a2b"}, frames[seq % len(frames)]))
            connection.recv_data()
    finally:
        connection.close()


def worker_config(text: str, default_threads: int) -> tuple[int, int]:
    """(workers, threads) from ``"2"`` (threads: ``default_threads``) or ``"1x4"``."""
    workers, _, threads = text.strip().partition("x")
    return int(workers), int(threads) if threads else default_threads


def run_series(url: str, frames: list[bytes], client_counts: list[int], args, server_groups: dict[str, int],
               page_url: str | None, workers: str | None) -> tuple[list[dict], list[dict]]:
    """Warm up, then one run per client count (and the held-streams check) against one stack."""
    warm_up(session_url(url, page_url), frames, origin=args.origin)
    runs = []
    for count in client_counts:
        run = run_clients(url, frames, count, args.seconds, args.warmup_seconds, args.camera_fps, server_groups,
                          origin=args.origin, page_url=page_url)
        runs.append({"prediction_workers": workers, **run})
    held = []
    if args.hold_streams:
        held.append({"prediction_workers": workers,
                     **hold_streams(url, frames, args.hold_streams, server_groups, page_url, origin=args.origin)})
    return runs, held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--websocket-url", help="use a running relay (ws://HOST:PORT/stream) instead of starting the stack")
    parser.add_argument("--server-pids", default="", help="with --websocket-url: name=pid,... of process-group "
                                                          "leaders whose CPU use to report")
    parser.add_argument("--origin", help="Origin header the clients send (default: none, like any non-browser "
                                         "client; the relay allows that unless RELAY_ALLOW_MISSING_ORIGIN=0)")
    parser.add_argument("--model-dir", type=Path, help="exported model directory to serve (default models/default, "
                                                       "else the stand-in test model)")
    parser.add_argument("--clients", default="1,2,4", help="concurrent client counts to run (default 1,2,4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup-seconds", type=float, default=2.0, help="unmeasured seconds at the start of each run")
    parser.add_argument("--camera-fps", type=float, default=30.0, help="camera rate of each client (default 30)")
    parser.add_argument("--clip", default="d9", help="shared clip (default d9, webcam-like)")
    parser.add_argument("--frames", type=int, default=90, help="distinct frames to loop over (default 90)")
    parser.add_argument("--jpeg-quality", type=int, default=80, help="JPEG quality of the sent frames (default 80)")
    parser.add_argument("--prediction-workers", default="1", help="prediction worker processes, or WORKERSxTHREADS: "
                                                                  "the whole series runs once per entry, e.g. 1,2 or "
                                                                  "1x4,2x1 (default 1)")
    parser.add_argument("--prediction-threads", type=int, default=1, help="request threads per worker where "
                                                                          "--prediction-workers gives none (default 1: "
                                                                          "gunicorn's sync worker)")
    parser.add_argument("--hold-streams", type=int, default=0, help="after the runs, hold this many streams at once "
                                                                   "and report resident memory (default 0: skip)")
    parser.add_argument("--page-url", help="with --websocket-url: the webcam page that hands out session tokens")
    parser.add_argument("--samples-output", type=Path, help="also write every round-trip latency (ms) per client "
                                                             "count to this JSON file (for plots)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    frames = clip_jpegs(args.clip, args.frames, args.jpeg_quality)
    client_counts = [int(part) for part in args.clients.split(",") if part.strip()]
    worker_configs = [worker_config(part, args.prediction_threads)
                      for part in args.prediction_workers.split(",") if part.strip()]
    stack = None
    model_dir = None
    runs: list[dict] = []
    held: list[dict] = []
    if args.websocket_url:
        url = args.websocket_url
        server_groups = {name: int(pid) for name, pid in
                         (item.split("=", 1) for item in args.server_pids.split(",") if "=" in item)}
        runs, held = run_series(url, frames, client_counts, args, server_groups, args.page_url, None)
    else:
        from scripts.run_service import LocalStack, StackSettings
        from tests.conftest import free_port

        for workers, threads in worker_configs:
            stack = LocalStack(StackSettings(prediction_port=free_port(), relay_port=free_port(), page_port=free_port(),
                                             prediction_workers=workers, prediction_threads=threads),
                               model_dir=args.model_dir, extra_environment={"FACESWAP_ROUTINE_REPORT_CPU": "1"})
            print(f"starting the local stack ({workers} prediction worker(s) x {threads} thread(s))...",
                  file=sys.stderr, flush=True)
            stack.start()
            try:
                url = stack.websocket_url
                model_dir = str(stack.model_dir)
                server_groups = {tier.name: tier.process.pid for tier in stack.tiers}
                series, holding = run_series(url, frames, client_counts, args, server_groups, stack.page_url,
                                             f"{workers}x{threads}")
                runs += series
                held += holding
            finally:
                stack.stop()

    first_workers = runs[0].get("prediction_workers") if runs else None
    samples = {(str(run["clients"]) if run.get("prediction_workers") == first_workers
                else f"{run['clients']}@{run['prediction_workers']}w"): run.pop("_latency_samples_ms") for run in runs}
    if args.samples_output:
        args.samples_output.write_text(json.dumps(samples))
    single = next((run for run in runs if run["clients"] == GOAL["clients"]), None)   # the first worker count
    report = {
        "benchmark": "stream",
        "websocket_url": url,
        "model_dir": model_dir,
        "stand_in_model": bool(stack.uses_stand_in_model) if stack is not None else None,
        "clip": f"{args.clip}.mp4",
        "frame_size": list(FRAME_SIZE),
        "jpeg_bytes_mean": round(float(np.mean([len(frame) for frame in frames]))),
        "camera_fps": args.camera_fps,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "goal": GOAL,
        "load_average_at_end": load_average(),
        "runs": runs,
        "held_streams": held,
        "meets_goal": bool(single and single["fps_per_client"] >= GOAL["fps_per_client"] * 0.97
                           and single["latency_ms"]["p95"] is not None
                           and single["latency_ms"]["p95"] <= GOAL["latency_p95_ms"]),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
