"""The stream benchmark's own arithmetic (scripts/benchmarks/stream_benchmark.py): per-stage CPU
per frame against the measured process CPU, worker configurations, session URLs and /proc reading."""

from __future__ import annotations

import os

import pytest

from scripts.benchmarks.stream_benchmark import (PREDICTION_GROUP, process_group_cpu_seconds, process_group_rss_mb,
                                                 session_url, stage_breakdown, worker_config)


def test_stage_breakdown_compares_the_reported_stages_with_the_measured_cpu():
    timings = {"cpu_detect": [2.0, 4.0], "cpu_model": [2.0, 2.0], "total": [30.0, 31.0], "relay": [40.0, 41.0]}
    # 2 frames, 18 ms of process CPU between the readings: 9 ms per frame, 6 of them reported.
    breakdown = stage_breakdown(timings, {PREDICTION_GROUP: 1.018}, {PREDICTION_GROUP: 1.0}, merged=2)
    assert breakdown["stages"] == {"detect": 3.0, "model": 2.0}
    assert breakdown["sum"] == 5.0 and breakdown["measured_process"] == 9.0
    assert breakdown["accounted_share"] == pytest.approx(5.0 / 9.0, abs=0.001)


def test_no_breakdown_without_cpu_timings_or_frames():
    assert stage_breakdown({"total": [1.0]}, {PREDICTION_GROUP: 1.0}, {PREDICTION_GROUP: 0.0}, 5) is None
    assert stage_breakdown({"cpu_model": [1.0]}, {PREDICTION_GROUP: 1.0}, {PREDICTION_GROUP: 0.0}, 0) is None


def test_worker_configurations():
    assert worker_config("2", 1) == (2, 1)
    assert worker_config(" 1x4 ", 1) == (1, 4)


def test_session_url_without_a_page_is_the_url_itself():
    assert session_url("ws://127.0.0.1:1/stream", None) == "ws://127.0.0.1:1/stream"


def test_this_process_group_is_measured_from_proc():
    group = {"me": os.getpgid(0)}
    busy = sum(range(2_000_000))
    assert busy > 0 and process_group_cpu_seconds(group)["me"] > 0.0
    assert process_group_rss_mb(group)["me"] > 10.0
