"""The relay when the routine is slow, dies, comes back, and when clients vanish mid-frame.

These tests need a routine they can slow down and kill, so the echo routine stands in for the
prediction server (tests/websocket_server/echo_prediction_routine.py); everything else is real:
the relay under gunicorn with the Flask-Sockets worker and WebSocket clients over loopback.
"""

from __future__ import annotations

import socket
import threading
import time

from tests.websocket_server.conftest import RelayConnection, get_json, stream_url

CAMERA_INTERVAL_S = 1 / 30


def test_latest_frame_wins_under_a_slow_routine(servers, d9_frames):
    delay_ms = 300
    routine = servers.echo_routine(delay_ms=delay_ms)
    relay = servers.relay(routine.url)
    sent_at: dict[int, float] = {}
    results: list[tuple[dict, float]] = []
    frame_count = 30  # one second of camera frames against a routine that manages 3 per second

    with RelayConnection(stream_url(relay)) as connection:
        def receive_all():
            while True:
                header, _ = connection.receive()
                results.append((header, time.monotonic()))
                if header["seq"] == frame_count - 1:
                    return

        receiver = threading.Thread(target=receive_all, daemon=True)
        receiver.start()
        for seq in range(frame_count):
            sent_at[seq] = time.monotonic()
            connection.send_frame(seq, d9_frames[seq % len(d9_frames)])
            time.sleep(CAMERA_INTERVAL_S)
        receiver.join(timeout=20)
        assert not receiver.is_alive(), f"the last frame never came back; got {[h['seq'] for h, _ in results]}"

    seqs = [header["seq"] for header, _ in results]
    assert all(header["status"] == "ok" for header, _ in results)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert seqs[0] == 0 and seqs[-1] == frame_count - 1
    # About one frame per routine call got through; the rest were replaced while waiting.
    assert len(seqs) <= frame_count // 3, seqs
    final_dropped = results[-1][0]["dropped"]
    assert final_dropped == frame_count - len(seqs)
    assert [header["dropped"] for header, _ in results] == sorted(header["dropped"] for header, _ in results)
    # Latency stays bounded: a frame waits for at most the one in flight, never for a queue.
    latencies_ms = [(arrived - sent_at[header["seq"]]) * 1000 for header, arrived in results]
    assert max(latencies_ms) < 2 * delay_ms + 600, latencies_ms
    # A FIFO queue would have delivered the last frame after frame_count * delay_ms.
    assert latencies_ms[-1] < frame_count * delay_ms / 4


def test_routine_killed_mid_stream_degrades_then_recovers_on_the_same_connection(servers, d9_frames):
    routine = servers.echo_routine()
    relay = servers.relay(routine.url, RELAY_RETRY_ROUTINE_AFTER_S="0.5", RELAY_HEALTH_PROBE_INTERVAL_S="0")
    frame = d9_frames[0]
    with RelayConnection(stream_url(relay)) as connection:
        connection.send_frame(0, frame)
        header, _ = connection.receive()
        assert header["status"] == "ok"

        routine.kill()
        seq = 1
        connection.send_frame(seq, frame, sent_at=123.0)
        header, payload = connection.receive()
        assert header["seq"] == seq and header["status"] == "degraded"
        assert payload == frame, "a degraded frame comes back unchanged"
        assert header["reason"] and "unavailable" in header["reason"]
        assert header["sent_at"] == 123.0
        status, health = get_json(relay.url + "/healthz")
        assert status == 200 and health["status"] == "degraded"
        assert health["prediction_routine"]["available"] is False

        # While the breaker is open, frames come back at once instead of costing a timeout each.
        started = time.monotonic()
        for _ in range(3):
            seq += 1
            connection.send_frame(seq, frame)
            header, payload = connection.receive()
            assert header["status"] == "degraded" and payload == frame
        assert time.monotonic() - started < 2.0

        routine.start()  # same port
        deadline = time.monotonic() + 15
        statuses = []
        while time.monotonic() < deadline:
            seq += 1
            connection.send_frame(seq, frame)
            header, _ = connection.receive()
            statuses.append(header["status"])
            if header["status"] == "ok":
                break
            time.sleep(0.1)
        assert statuses[-1] == "ok", statuses
        status, health = get_json(relay.url + "/healthz")
        assert health["status"] == "ok" and health["prediction_routine"]["available"] is True
    assert relay.process.poll() is None
    assert "Traceback" not in relay.log_text()


def wait_for_connections(relay, expected: int, timeout_s: float = 10.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        _, health = get_json(relay.url + "/healthz")
        if health["connections"] == expected or time.monotonic() > deadline:
            return health["connections"]
        time.sleep(0.1)


def test_client_disconnect_mid_frame_frees_the_session_quietly(servers, d9_frames):
    routine = servers.echo_routine(delay_ms=400)
    relay = servers.relay(routine.url)

    # 1. Leave while a frame is in flight to the routine (and another waits in the slot).
    connection = RelayConnection(stream_url(relay))
    connection.send_frame(0, d9_frames[0])
    connection.send_frame(1, d9_frames[1])
    assert wait_for_connections(relay, 1) == 1
    connection.socket.sock.close()  # vanish without a close handshake

    # 2. Leave in the middle of a WebSocket message (header announces more than is sent).
    raw = RelayConnection(stream_url(relay))
    raw.socket.sock.sendall(bytes([0x82, 0xFE, 0x10, 0x00]) + b"\x00\x00\x00\x00" + b"partial")
    raw.socket.sock.shutdown(socket.SHUT_RDWR)
    raw.socket.sock.close()

    assert wait_for_connections(relay, 0) == 0, "the sessions did not end"
    time.sleep(0.6)  # the in-flight routine call returns after the client left
    log = relay.log_text()
    assert log.count(": ended (client disconnected)") == 2, log
    assert "Traceback" not in log and "ERROR" not in log, log
    # The relay is still serving.
    with RelayConnection(stream_url(relay)) as again:
        again.send_frame(7, d9_frames[2])
        header, _ = again.receive()
        assert header["seq"] == 7 and header["status"] == "ok"


def test_cloud_target_without_credentials_degrades_instead_of_failing(servers, d9_frames, tmp_path):
    relay = servers.relay("https://unused.invalid", FACESWAP_PREDICTION_TARGET="vertex",
                          FACESWAP_PREDICTION_API_ENDPOINT="", GOOGLE_APPLICATION_CREDENTIALS="",
                          CLOUDSDK_CONFIG=str(tmp_path / "no-gcloud"), NO_GCE_CHECK="true")
    with RelayConnection(stream_url(relay)) as connection:
        connection.send_frame(0, d9_frames[0])
        header, payload = connection.receive()
    assert header["status"] == "degraded" and payload == d9_frames[0]
    assert "Application Default Credentials" in header["reason"], header["reason"]
    assert relay.process.poll() is None and "Traceback" not in relay.log_text()


def test_the_browsers_frame_time_reaches_the_routine(servers, d9_frames):
    """The relay forwards each frame's ``captured_at`` (browser clock, ms; else its ``sent_at``) as
    the instance's ``frame_time_ms``, so the routine times a stream's frames as they were taken (the
    echo routine reports what it received in its timings); a frame without either is sent without."""
    routine = servers.echo_routine()
    relay = servers.relay(routine.url)
    with RelayConnection(stream_url(relay)) as connection:
        connection.send_frame(0, d9_frames[0], sent_at=98765.25, captured_at=98740.5)
        header, _ = connection.receive()
        assert header["status"] == "ok" and header["timings_ms"]["echo_frame_time_ms"] == 98740.5
        assert header["sent_at"] == 98765.25
        connection.send_frame(2, d9_frames[0], sent_at=98800.0)
        header, _ = connection.receive()
        assert header["timings_ms"]["echo_frame_time_ms"] == 98800.0
        connection.send_frame(1, d9_frames[0])
        header, _ = connection.receive()
        assert header["status"] == "ok" and "echo_frame_time_ms" not in header["timings_ms"]
