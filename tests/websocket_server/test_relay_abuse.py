"""The relay under hostile and unlucky traffic (issue 12, items 2, 6, 7, 10): floods, idle and
half-open sockets, a hung routine, stale keep-alive connections, deeply nested JSON.

Real relay under gunicorn, the echo routine (delayed or hung) behind it, real sockets on loopback.
Attackers connect from 127.0.0.1, the well-behaved client from 127.0.0.2 and health checks from
127.0.0.3 (Linux routes all of 127.0.0.0/8 to the loopback interface).
"""

from __future__ import annotations

import base64
import os
import socket
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest
import websocket

from tests.websocket_server.conftest import RelayConnection, stream_url
from websocket_server.frame_protocol import pack_message, unpack_message

ATTACKER, USER, CHECKER = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def connect_from(source: str, url: str, timeout: float = 30.0) -> RelayConnection:
    """A RelayConnection whose TCP connection starts from the loopback address ``source``."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout, source_address=(source, 0))
    connection = RelayConnection.__new__(RelayConnection)
    connection.socket = websocket.create_connection(url, timeout=timeout, socket=sock)
    return connection


def masked_binary_frame(message: bytes) -> bytes:
    """A client WebSocket frame with an all-zero masking key (so it can be sent over and over)."""
    length = len(message)
    if length < 126:
        header = bytes([0x82, 0x80 | length])
    elif length < 65536:
        header = bytes([0x82, 0x80 | 126]) + struct.pack(">H", length)
    else:
        header = bytes([0x82, 0x80 | 127]) + struct.pack(">Q", length)
    return header + b"\x00\x00\x00\x00" + message


def raw_handshake(source: str, port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the relay closed the connection during the handshake")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(answer.split(b"\r\n")[0].decode())
    return sock


def close_code_of(sock: socket.socket, timeout_s: float = 10.0) -> int | None:
    """Read server frames until a close frame; its status code (None if the socket just ended)."""
    sock.settimeout(timeout_s)
    buffer = b""

    def need(count: int) -> bool:
        nonlocal buffer
        while len(buffer) < count:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            buffer += chunk
        return True

    try:
        while need(2):
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                if not need(4):
                    return None
                length, start = struct.unpack(">H", buffer[2:4])[0], 4
            elif length == 127:
                if not need(10):
                    return None
                length, start = struct.unpack(">Q", buffer[2:10])[0], 10
            if not need(start + length):
                return None
            payload, buffer = buffer[start:start + length], buffer[start + length:]
            if opcode == 0x8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
    except OSError:
        return None
    return None


class Flooder(threading.Thread):
    """Opens a stream from ATTACKER and sends one frame over and over as fast as the socket takes
    it; when the relay closes the stream, records the close code and connects again."""

    def __init__(self, port: int, frame: bytes, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.wire = masked_binary_frame(pack_message({"seq": 1, "direction": "a2b"}, frame)) * 4
        self.close_codes: list[int | None] = []
        self.refused = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                sock = raw_handshake(ATTACKER, self.port)
            except OSError:
                self.refused += 1
                time.sleep(0.05)
                continue
            codes: list[int | None] = []
            reader = threading.Thread(target=lambda: codes.append(close_code_of(sock, 30)), daemon=True)
            reader.start()
            try:
                while not self.stop.is_set():
                    sock.sendall(self.wire)
            except OSError:
                pass
            reader.join(timeout=5)
            self.close_codes.extend(codes)
            sock.close()


def stream_at(connection: RelayConnection, frames: list[bytes], fps: float, duration_s: float) -> dict:
    """Send ``frames`` at ``fps`` for ``duration_s``; answered frames per second and latencies."""
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    statuses: list[str] = []
    done = threading.Event()

    def receive() -> None:
        while not done.is_set() or len(latencies) < len(sent_at):
            try:
                header, _ = connection.receive()
            except (websocket.WebSocketTimeoutException, OSError, websocket.WebSocketException):
                return
            latencies.append(time.monotonic() - sent_at[header["seq"]])
            statuses.append(header["status"])

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    started = time.monotonic()
    seq = 0
    while time.monotonic() - started < duration_s:
        sent_at[seq] = time.monotonic()
        connection.send_frame(seq, frames[seq % len(frames)])
        seq += 1
        time.sleep(max(0.0, started + seq / fps - time.monotonic()))
    done.set()
    connection.socket.settimeout(3)
    receiver.join(timeout=5)
    ordered = sorted(latencies)
    return {"sent": seq, "answered": len(latencies), "ok": statuses.count("ok"),
            "fps": statuses.count("ok") / duration_s,
            "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("inf")}


LIVEZ_CHECKER = """
import json, socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
latencies = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.3", 0)) as sock:
            sock.sendall(b"GET /livez HTTP/1.1\\r\\nHost: relay\\r\\nConnection: close\\r\\n\\r\\n")
            answer = sock.recv(4096)
        ok = answer.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    latencies.append((time.monotonic() - started) * 1000 if ok else 1e9)
    time.sleep(0.1)
print(json.dumps(latencies[1:]))  # the first one warms up this process's own sockets
"""


def livez_checker(port: int, seconds: float) -> subprocess.Popen:
    """A separate process (so the test's own threads do not delay it) timing GET /livez every 0.1 s."""
    return subprocess.Popen([sys.executable, "-c", LIVEZ_CHECKER, str(port), str(seconds)], stdout=subprocess.PIPE,
                            text=True)


def flood_round(relay, user, frames: list[bytes]) -> dict:
    """The well-behaved client alone for 3 s, then with 30 flooders for 4 s (/livez timed meanwhile)."""
    alone = stream_at(user, frames, fps=15, duration_s=3.0)
    stop = threading.Event()
    flooders = [Flooder(relay.port, frames[0], stop) for _ in range(30)]
    for flooder in flooders:
        flooder.start()
    checker = None
    try:
        time.sleep(1.0)  # every flooder is connected and sending
        checker = livez_checker(relay.port, 4.0)
        flooded = stream_at(user, frames, fps=15, duration_s=4.0)
        livez = sorted(json.loads(checker.communicate(timeout=30)[0]))
    finally:
        stop.set()
        for flooder in flooders:
            flooder.join(timeout=10)
        if checker is not None:
            checker.kill()
    codes = [code for flooder in flooders for code in flooder.close_codes]
    result = {"alone": alone, "flooded": flooded, "livez_p95_ms": livez[int(0.95 * (len(livez) - 1))],
              "livez_max_ms": livez[-1], "close_codes": codes, "load": os.getloadavg()[0]}
    # A fair relay: >= 90 % of the frame rate, p95 within 2x (the floor keeps a 2-core machine's
    # scheduling noise from deciding), /livez at once (a rare scheduling hiccup allowed).
    result["fair"] = (flooded["fps"] >= 0.9 * alone["fps"]
                      and flooded["p95_ms"] <= 2 * max(alone["p95_ms"], 100.0)
                      and result["livez_p95_ms"] < 100 and result["livez_max_ms"] < 300)
    print(f"\nflood round: {result}")
    return result


def test_thirty_flooders_neither_starve_a_well_behaved_client_nor_stall_livez(servers, d9_frames):
    routine = servers.echo_routine(delay_ms=30)
    relay = servers.relay(routine.url)
    user = connect_from(USER, stream_url(relay))
    stream_at(user, d9_frames, fps=15, duration_s=1.0)  # warm up (connections, first calls)
    rss_before_mb = relay_rss_mb(relay)
    # Two rounds at most: on a shared 2-core machine one round can lose its CPU to other work; a
    # relay that lets flooders starve the client fails both (before issue 12: 0 frames/s).
    rounds = [flood_round(relay, user, d9_frames)]
    if not rounds[0]["fair"]:
        rounds.append(flood_round(relay, user, d9_frames))
    user.close()
    rss_growth_mb = relay_rss_mb(relay) - rss_before_mb
    print(f"relay RSS +{rss_growth_mb:.0f} MB")
    assert rounds[-1]["fair"], rounds
    codes = [code for result in rounds for code in result["close_codes"]]
    assert codes.count(1008) >= 0.9 * len(codes), codes   # a flooder closed by the relay is told why
    assert rss_growth_mb < 100, f"the relay grew by {rss_growth_mb:.0f} MB under the flood"
    assert relay.process.poll() is None and "Traceback" not in relay.log_text()


def relay_rss_mb(relay) -> float:
    """Resident memory of the relay's gunicorn master and workers together, MB."""
    total_kb = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent != relay.process.pid and int(entry) != relay.process.pid:
                continue
            with open(f"/proc/{entry}/status") as status:
                total_kb += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total_kb / 1024


def test_a_client_that_keeps_sending_over_the_limit_is_closed_with_policy_violation(servers, d9_frames):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, RELAY_MAX_FRAMES_PER_SECOND="20")
    stop = threading.Event()
    flooder = Flooder(relay.port, d9_frames[0], stop)
    flooder.start()
    deadline = time.monotonic() + 15
    while not flooder.close_codes and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    flooder.join(timeout=10)
    assert flooder.close_codes and flooder.close_codes[0] == 1008, flooder.close_codes
    assert "keeps sending over the frame-rate limit" in relay.log_text()
    # The relay serves others as before.
    with connect_from(USER, stream_url(relay)) as user:
        user.send_frame(1, d9_frames[1])
        assert user.receive()[0]["status"] == "ok"


def test_a_thousand_idle_sockets_from_one_address_lock_nobody_else_out(servers, d9_frames):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, RELAY_HANDSHAKE_TIMEOUT_S="2")
    idle = []
    for _ in range(1000):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.bind((ATTACKER, 0))
        sock.connect(("127.0.0.1", relay.port))
        idle.append(sock)
    try:
        started = time.monotonic()
        with connect_from(USER, stream_url(relay), timeout=10) as user:
            user.send_frame(1, d9_frames[0])
            header, _ = user.receive()
        assert header["status"] == "ok" and time.monotonic() - started < 3.0
        # Beyond the per-address cap (32) the relay closed the sockets at once; the rest after the
        # handshake timeout.
        time.sleep(0.5)
        for sock in idle:
            sock.setblocking(False)
        closed_at_once = sum(_is_closed(sock) for sock in idle)
        assert closed_at_once >= 1000 - 32, closed_at_once
        time.sleep(2.5)
        assert sum(_is_closed(sock) for sock in idle) == 1000
    finally:
        for sock in idle:
            sock.close()
    assert relay.process.poll() is None


def _is_closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_an_idle_stream_is_closed_with_going_away(servers, d9_frames):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, RELAY_IDLE_TIMEOUT_S="1")
    sock = raw_handshake(USER, relay.port)
    started = time.monotonic()
    assert close_code_of(sock, timeout_s=5) == 1001
    assert 0.9 < time.monotonic() - started < 3.0
    sock.close()


def test_a_hung_routine_gives_degraded_frames_within_the_pages_budget(servers, d9_frames):
    routine = servers.echo_routine(delay_ms=20_000)   # accepts, never answers in time
    # Patient client settings: 10 s timeout and 2 retries would be 30 s without the frame deadline.
    relay = servers.relay(routine.url, FACESWAP_PREDICTION_TIMEOUT_S="10", FACESWAP_PREDICTION_RETRIES="2",
                          RELAY_RETRY_ROUTINE_AFTER_S="0")   # every frame really calls the routine
    with connect_from(USER, stream_url(relay)) as user:
        for seq in range(3):
            started = time.monotonic()
            user.send_frame(seq, d9_frames[seq])
            header, payload = user.receive()
            elapsed = time.monotonic() - started
            assert header["seq"] == seq and header["status"] == "degraded" and payload == d9_frames[seq]
            assert header["reason"], header
            assert elapsed < 3.0, f"frame {seq} came back after {elapsed:.2f} s ({header['reason']})"
    assert relay.process.poll() is None


@pytest.mark.parametrize("pause_s", [2.05, 2.5])
def test_stale_keep_alive_connections_never_report_a_healthy_routine_down(servers, d9_frames, pause_s):
    # gunicorn (the echo routine, like the prediction server) closes idle keep-alive connections
    # after 2 s; the App Engine settings allow no retry.
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, FACESWAP_PREDICTION_RETRIES="0")
    statuses = []
    with connect_from(USER, stream_url(relay)) as user:
        for seq in range(4):
            user.send_frame(seq, d9_frames[seq])
            header, _ = user.receive()
            statuses.append((header["status"], header["reason"]))
            time.sleep(pause_s)
    assert all(status == "ok" for status, _ in statuses), statuses


def test_deeply_nested_options_get_an_error_result_and_the_stream_goes_on(servers, d9_frames):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url)
    nested = "[" * 955 + "]" * 955
    header = ('{"seq":5,"direction":"a2b","options":{"color":' + nested + "}}").encode()
    assert 1900 < len(header) < 2100
    with connect_from(USER, stream_url(relay)) as user:
        user.send_raw(struct.pack(">I", len(header)) + header + d9_frames[0])
        answer, _ = user.receive()
        assert answer["status"] == "error" and "nested too deeply" in answer["reason"], answer
        user.send_frame(6, d9_frames[1])
        answer, _ = user.receive()
        assert answer["seq"] == 6 and answer["status"] == "ok"
    assert "Traceback" not in relay.log_text()



def test_behind_trusted_proxies_the_cap_applies_to_the_forwarded_client_address(servers, d9_frames):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, RELAY_TRUSTED_PROXIES="127.0.0.1/32", RELAY_MAX_CONNECTIONS_PER_ADDRESS="3")
    url = stream_url(relay)
    held = [websocket.create_connection(url, timeout=10, header=["X-Forwarded-For: 203.0.113.7"]) for _ in range(3)]
    try:
        # A fourth from that client is refused, also when it prepends a made-up address of its own.
        for forwarded in ("203.0.113.7", "198.51.100.99, 203.0.113.7"):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(url, timeout=10, header=[f"X-Forwarded-For: {forwarded}"])
            assert refused.value.status_code == 429
        # Another client behind the same proxy streams as usual.
        other = websocket.create_connection(url, timeout=10, header=["X-Forwarded-For: 203.0.113.8"])
        other.send_binary(pack_message({"seq": 1, "direction": "a2b"}, d9_frames[0]))
        assert unpack_message(other.recv())[0]["status"] == "ok"
        other.close()
    finally:
        for connection in held:
            connection.close()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(servers):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, RELAY_MAX_CONNECTIONS_PER_ADDRESS="3")
    url = stream_url(relay)
    held = [websocket.create_connection(url, timeout=10, header=[f"X-Forwarded-For: 203.0.113.{n}"]) for n in range(3)]
    try:
        with pytest.raises((websocket.WebSocketException, OSError)):
            websocket.create_connection(url, timeout=10, header=["X-Forwarded-For: 203.0.113.50"])
    finally:
        for connection in held:
            connection.close()
