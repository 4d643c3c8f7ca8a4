"""ModelPrediction on real frames with the real tiny test model: the swap, 0-face frames, every bad
instance in one batch, per-stream state, whole-request errors, threads."""

from __future__ import annotations

import base64
import threading
import time

import cv2
import numpy as np
import pytest

from faceswap.errors import FaceswapError, InputError
from faceswap.faces.detection import FaceDetector
from faceswap.images import decode_image, encode_jpeg, encode_png
from faceswap.swapping.watermark import draw_mark
from prediction_routine.instances import TIMING_STAGES
from prediction_routine.predictor import ModelPrediction, RoutineSettings
from tests.conftest import NO_FACE_STILLS
from tests.prediction_routine.conftest import image_of, instance


def mark_region(shape) -> np.ndarray:
    """bool (H, W): pixels the "AI-generated" mark touches on a frame of ``shape``."""
    grey = np.full(shape, 128, np.uint8)
    return np.any(draw_mark(grey.copy()) != grey, axis=2)


def face_box_mask(frame: np.ndarray, grow: float) -> np.ndarray:
    """bool (H, W): the detected face's box grown by ``grow`` of its size on every side."""
    faces = FaceDetector().detect(frame)
    assert faces, "the test frame must show a face"
    x0, y0, x1, y1 = faces[0].box
    w, h = x1 - x0, y1 - y0
    mask = np.zeros(frame.shape[:2], bool)
    mask[max(0, int(y0 - grow * h)):int(y1 + grow * h) + 1, max(0, int(x0 - grow * w)):int(x1 + grow * w) + 1] = True
    return mask


def test_swap_changes_the_face_keeps_the_background_and_marks_the_frame(routine, d9_jpegs):
    source = decode_image(d9_jpegs[0])
    [result] = routine.predict([instance(d9_jpegs[0])])

    assert result["error"] is None and result["faces"] == 1
    assert set(result["timings_ms"]) == set(TIMING_STAGES)
    assert result["timings_ms"]["model"] > 0 and result["timings_ms"]["total"] >= result["timings_ms"]["detect"]
    merged = image_of(result)
    assert merged.shape == source.shape == (480, 640, 3)
    difference = np.abs(merged.astype(np.int16) - source.astype(np.int16)).mean(axis=2)

    inner_face = face_box_mask(source, grow=-0.2)
    background = ~face_box_mask(source, grow=0.3) & ~mark_region(source.shape)
    assert difference[inner_face].mean() > 8.0, "the face region did not change"
    assert difference[background].mean() < 2.0, "the background changed beyond JPEG re-encoding"
    assert difference[mark_region(source.shape)].mean() > 8.0, "no visible AI-generated mark"


def test_both_directions_and_options_give_different_merges(routine, d9_jpegs):
    a2b, b2a, plain = routine.predict([
        instance(d9_jpegs[1], "a2b"), instance(d9_jpegs[1], "b2a"),
        instance(d9_jpegs[1], "a2b", options={"color": "none", "blend": "poisson"})])
    assert all(result["error"] is None and result["faces"] == 1 for result in (a2b, b2a, plain))
    merged = [image_of(result).astype(np.int16) for result in (a2b, b2a, plain)]
    # in the face, where the two directions differ (the whole frame's mean diluted it to ~0.44-0.5)
    inner_face = face_box_mask(decode_image(d9_jpegs[1]), grow=-0.2)
    # (the tiny test model reads ~2.9 grey levels, on and off; the same decoder twice reads 0)
    assert np.abs(merged[0] - merged[1])[inner_face].mean() > 1.5, "decoder A and decoder B gave the same face"
    assert np.abs(merged[0] - merged[2]).mean() > 0.1, "colour/blend options had no effect"


def test_the_mark_stays_unless_the_operator_allows_turning_it_off(routine, d9_jpegs):
    region = mark_region((480, 640, 3))
    source = decode_image(d9_jpegs[2])
    [kept] = routine.predict([instance(d9_jpegs[2], options={"mark": False})])
    assert kept["error"] is None
    assert np.abs(image_of(kept).astype(np.int16) - source)[region].mean() > 8.0   # force_mark is on by default


@pytest.mark.parametrize("name", NO_FACE_STILLS)
def test_frames_without_a_face_come_back_unchanged(routine, still_path, name):
    data = still_path(name).read_bytes()
    [result] = routine.predict([instance(data, stream_id=f"still-{name}")])
    assert result == {**result, "faces": 0, "error": None}
    assert result["no_face"] == "no face of at least 48 px found"   # why, in words (textured, lit pictures)
    assert base64.b64decode(result["image"]["b64"]) == data   # the very bytes that came in
    assert result["timings_ms"]["model"] == 0.0


def test_every_bad_instance_gets_its_own_error_and_the_good_ones_succeed(routine, d9_jpegs):
    rng = np.random.default_rng(0)
    noise_png = encode_png(rng.integers(0, 256, (700, 800, 3), dtype=np.uint8))
    assert len(noise_png) > 1_572_864
    huge_pixels = encode_png(np.zeros((4200, 4200, 3), np.uint8))
    assert len(huge_pixels) < 1_572_864
    good = instance(d9_jpegs[3])
    batch = [
        good,
        instance(b"this is not an image"),
        instance(noise_png),
        instance(huge_pixels),
        {"direction": "a2b"},
        {"image": {"b64": "%%% not base64 %%%"}, "direction": "a2b"},
        {"image": "raw string", "direction": "a2b"},
        "not an object",
        instance(d9_jpegs[3], direction=None),
        instance(d9_jpegs[3], direction="sideways"),
        instance(d9_jpegs[3], options={"color": "sepia"}),
        instance(d9_jpegs[3], options={"sharpen": True}),
        instance(d9_jpegs[3], options={"mark": "yes"}),
        instance(d9_jpegs[3], stream_id=["a", "list"]),
        instance(d9_jpegs[3], stream_id="timed", frame_time_ms="soon"),
        good,
    ]
    results = routine.predict(batch)
    assert len(results) == len(batch)
    for index in (0, len(batch) - 1):
        assert results[index]["error"] is None and results[index]["faces"] == 1
    expected = [
        (1, "not a JPEG or PNG image", False),
        (2, "over the 1572864-byte (1.5 MB) online-prediction limit", False),
        (3, "4200x4200 pixels, over the limit", False),
        (4, 'has no "image" field', False),
        (5, "not valid base64", False),
        (6, '"image" must be an object', False),
        (7, "the instance is a str, expected a JSON object", False),
        (8, 'has no "direction" field', True),
        (9, "unknown direction 'sideways'", True),
        (10, "option \"color\" is 'sepia'", True),
        (11, "unknown option 'sharpen'", True),
        (12, 'option "mark" is \'yes\'', True),
        (13, '"stream_id" must be a string', True),
        (14, "\"frame_time_ms\" must be a finite number of milliseconds, not 'soon'", True),
    ]
    for index, message, frame_back in expected:
        result = results[index]
        assert result["faces"] == 0 and message in (result["error"] or ""), (index, result["error"])
        assert set(result["timings_ms"]) == set(TIMING_STAGES)
        if frame_back:   # decodable frame: sent back unchanged
            assert base64.b64decode(result["image"]["b64"]) == d9_jpegs[3]
        else:
            assert result["image"] is None


def test_whole_request_errors(routine, d9_jpegs):
    with pytest.raises(InputError, match="non-empty list"):
        routine.predict([])
    with pytest.raises(InputError, match="non-empty list"):
        routine.predict({"instances": []})
    with pytest.raises(InputError, match="65 instances in one request; the limit is 64"):
        routine.predict([instance(d9_jpegs[0])] * 65)


def test_streams_keep_state_in_a_bounded_table(test_model_dir, d9_jpegs):
    routine = ModelPrediction.from_path(str(test_model_dir), settings=RoutineSettings(max_streams=2))
    for stream in ("one", "two", "one", "three"):
        [result] = routine.predict([instance(d9_jpegs[4], stream_id=stream)])
        assert result["error"] is None and result["faces"] == 1
    assert len(routine._streams) == 2 and "one" in routine._streams and "three" in routine._streams
    assert routine._streams.created == 3
    # A stream is followed frame after frame: consecutive frames of one stream all swap.
    results = [routine.predict([instance(jpeg, stream_id="video")])[0] for jpeg in d9_jpegs]
    assert [result["faces"] for result in results] == [1] * len(d9_jpegs)


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def test_sixteen_held_streams_cost_a_few_megabytes(test_model_dir, d9_jpegs):
    """Every stream keeps its smoother and tracker; the trackers share the worker's graphs, so 16
    held streams stay far under 10 MB each (MediaPipe's per-stream graphs cost ~40 MB each)."""
    routine = ModelPrediction.from_path(str(test_model_dir))
    routine.predict([instance(d9_jpegs[0], stream_id="warm")])
    before = resident_mb()
    for frame in range(3):
        for stream in range(16):
            [result] = routine.predict([instance(d9_jpegs[frame], stream_id=f"stream-{stream}")])
            assert result["faces"] == 1
    grown = resident_mb() - before
    assert routine._tracker_slots.in_use == 17
    assert grown < 16 * 2.0, f"{grown:.1f} MB for 16 streams"


def test_threads_share_one_routine(routine, d9_jpegs):
    expected = [image_of(routine.predict([instance(jpeg)])[0]) for jpeg in d9_jpegs[:4]]
    outcomes: dict[int, list] = {}

    def worker(number: int) -> None:
        outcomes[number] = [routine.predict([instance(jpeg, stream_id=f"thread-{number}" if number % 2 else None)])[0]
                            for jpeg in d9_jpegs[:4]]

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(outcomes) == [0, 1, 2, 3]
    for number, results in outcomes.items():
        assert [result["faces"] for result in results] == [1, 1, 1, 1] and all(r["error"] is None for r in results)
        if number % 2 == 0:   # no stream: the same frame gives the same merge whatever the concurrency
            for result, reference in zip(results, expected):
                assert np.abs(image_of(result).astype(np.int16) - reference).max() <= 2


def test_png_input_and_jpeg_output(routine, d9_640x480):
    [result] = routine.predict([instance(encode_png(d9_640x480[5]))])
    assert result["error"] is None and result["faces"] == 1
    assert base64.b64decode(result["image"]["b64"])[:3] == b"\xff\xd8\xff"   # merged frames are JPEG


def test_savedmodel_backend_swaps_like_the_tflite_one(test_model_dir, routine, d9_jpegs):
    saved = ModelPrediction.from_path(str(test_model_dir), settings=RoutineSettings(backend="savedmodel"))
    [float_result] = saved.predict([instance(d9_jpegs[6])])
    [int8_result] = routine.predict([instance(d9_jpegs[6])])
    assert float_result["error"] is None and float_result["faces"] == 1
    # Same pipeline, float32 vs int8 weights: the merged frames agree closely.
    assert np.abs(image_of(float_result).astype(np.int16) - image_of(int8_result)).mean() < 3.0


def test_unknown_backend_is_a_clear_error(test_model_dir, monkeypatch):
    monkeypatch.setenv("FACESWAP_ROUTINE_BACKEND", "onnx")
    with pytest.raises(FaceswapError, match="FACESWAP_ROUTINE_BACKEND is 'onnx'; expected one of tflite, savedmodel"):
        ModelPrediction.from_path(str(test_model_dir))


def test_a_streams_frames_are_timed_by_frame_time_ms_when_it_is_given(test_model_dir, d9_jpegs):
    """Frames 33 ms apart on the sender's clock are one followed stream (smoothing, temporal filter,
    motion blur), whenever they arrive, and the same frames a second apart start the stream's
    timed state over at every frame: the routine times them by frame_time_ms, not by when it reads
    them. Only the differences count (a stream starting at another time on its clock swaps the
    same), and the frames' arrival times, which differ from run to run, do not."""
    routine = ModelPrediction.from_path(str(test_model_dir))
    frames = d9_jpegs[:5]

    def images(stream: str, start_ms: float, spacing_ms: float) -> list[bytes]:
        results = []
        for index, jpeg in enumerate(frames):
            [result] = routine.predict([instance(jpeg, stream_id=stream, frame_time_ms=start_ms + index * spacing_ms)])
            assert result["error"] is None and result["faces"] == 1
            results.append(base64.b64decode(result["image"]["b64"]))
            time.sleep(0.05 * (index % 2))          # arrival times that are not the frame times
        return results

    followed = images("followed", 5000.0, 33.4)
    assert images("followed later", 90000.0, 33.4) == followed
    spaced = images("spaced", 5000.0, 1000.0)
    assert images("spaced more", 0.0, 2000.0) == spaced
    assert followed[0] == spaced[0] and all(a != b for a, b in zip(followed[1:], spaced[1:]))
