"""The quality benchmark end to end on real faces: the verdicts it must give."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from faceswap.errors import FaceswapError, InputError
from faceswap.evaluation.benchmark import evaluate_model, evaluate_model_dir, swap_variant
from faceswap.evaluation.passthrough import PassThroughModel
from faceswap.faces.alignment import FaceLayout


class ShimmeringModel(PassThroughModel):
    """A model whose output is its input crop with fresh noise every frame (what an unstable model
    adds in the face's own frame, whatever the head does)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng = np.random.default_rng(0)

    def swap(self, faces, direction):
        out = super().swap(faces, direction)
        return np.clip(out + self.rng.normal(0.0, 0.06, out.shape).astype(np.float32), 0.0, 1.0)


class BlurringModel(PassThroughModel):
    """A model whose output is its input crop, blurred (what a soft model does to detail)."""

    def swap(self, faces, direction):
        out = super().swap(faces, direction)
        return np.stack([cv2.GaussianBlur(face, (0, 0), 2.0) for face in out])


@pytest.fixture(scope="module")
def passthrough_d18(make_benchmark, d6_target, clip_path, tmp_path_factory):
    """The pass-through model measured on 6 frames of d18 against d6 (lossless)."""
    folder = tmp_path_factory.mktemp("quality")
    benchmark = make_benchmark(PassThroughModel(FaceLayout(64, 0.0)), d6_target, encode=False)
    return benchmark.evaluate(clip_path("d18"), folder), folder


def test_a_model_that_outputs_its_input_is_judged_the_source(passthrough_d18):
    result, _ = passthrough_d18
    identity = result["identity"]
    assert result["frames"] == 6 and result["frames_with_face"] == 6 and result["face_kept"] == 1.0
    assert identity["verdict"] == "source"
    assert identity["judged_target_share"] == 0.0
    assert identity["output_to_source"] < 0.3 < 0.6 < identity["output_to_target"]
    assert identity["input_to_target"] > 0.6
    farthest = identity["farthest_frames"]
    assert len(farthest) == 5 and {frame for frame, _ in farthest} <= set(range(6))
    assert [distance for _, distance in farthest] == sorted((distance for _, distance in farthest), reverse=True)
    assert farthest[0][1] >= identity["output_to_target"]


def test_the_pass_through_is_its_own_ceiling_and_keeps_pose_and_expression(passthrough_d18):
    result, _ = passthrough_d18
    detail = result["detail"]
    assert detail["ratio"] == pytest.approx(detail["ceiling_ratio"]) and detail["share_of_ceiling"] == pytest.approx(1.0)
    assert 0.05 < detail["ratio"]
    # the measured model IS the ceiling here: every figure equals the pass-through's
    assert result["pose_error_deg"] == result["ceiling_pose_error_deg"]
    assert result["landmark_error"] == result["ceiling_landmark_error"]
    assert result["flicker_ratio"] == result["ceiling_flicker_ratio"] > 0
    assert result["registered_flicker_ratio"] == result["ceiling_registered_flicker_ratio"] > 0
    assert result["expression"]["eye_correlation"] == result["expression"]["ceiling_eye_correlation"]
    assert result["pose_error_deg"]["mean"] < 3.0  # what the pipeline alone moves: detector noise
    assert result["landmark_error"] < 0.05


def test_a_clip_gets_a_contact_sheet(passthrough_d18):
    result, folder = passthrough_d18
    sheet = cv2.imread(result["contact_sheet"])
    assert result["contact_sheet"] == str(folder / "d18_mp4.png")
    assert sheet is not None and sheet.shape[0] > 2 * 160 and sheet.shape[1] > 5 * 160 * 0.9


def test_a_blurred_output_scores_a_low_detail_ratio(make_benchmark, d6_target, still_path):
    benchmark = make_benchmark(BlurringModel(FaceLayout(128, 0.0)), d6_target, ceiling_size=128)
    result = benchmark.evaluate(still_path("s0"))
    assert result["kind"] == "still"
    assert result["detail"]["share_of_ceiling"] < 0.5
    assert result["detail"]["ratio"] < 0.5 * result["detail"]["ceiling_ratio"]
    assert set(result["expression"]) == {"mouth_opening", "eye_opening"}


def test_a_still_face_against_itself_scores_distance_zero(make_benchmark, recogniser, face_detector, still_path):
    from faceswap.evaluation.identity import load_target_identity

    target = load_target_identity(still_path("s0"), recogniser, face_detector)
    result = make_benchmark(PassThroughModel(FaceLayout(64, 0.0)), target).evaluate(still_path("s0"))
    assert result["identity"]["input_to_target"] < 1e-6
    assert result["identity"]["output_to_target"] < 0.2


def test_media_without_a_face_or_unreadable_get_one_line(make_benchmark, d6_target, still_path, tmp_path):
    benchmark = make_benchmark(PassThroughModel(FaceLayout(64, 0.0)), d6_target)
    with pytest.raises(InputError, match=r"s33\.jpg: no usable face"):
        benchmark.evaluate(still_path("s33"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4096)
    with pytest.raises(InputError, match=r"broken\.mp4"):
        benchmark.evaluate(broken)
    with pytest.raises(InputError, match=r"notes\.txt: not a clip"):
        (tmp_path / "notes.txt").write_text("hello")
        benchmark.evaluate(tmp_path / "notes.txt")


def test_encoded_outputs_lose_a_little_detail_not_the_face(make_benchmark, d6_target, clip_path):
    benchmark = make_benchmark(PassThroughModel(FaceLayout(64, 0.0)), d6_target, max_frames=3, sheet_rows=0)
    result = benchmark.evaluate(clip_path("d18"))
    assert result["frames"] == 3 and result["face_kept"] == 1.0
    assert result["identity"]["verdict"] == "source"
    assert "contact_sheet" not in result


def test_evaluate_model_dir_reports_a_model_directory_as_json(repo_root, clip_path, still_path, tmp_path):
    from faceswap.evaluation.benchmark import QualitySettings

    report = evaluate_model_dir(repo_root / "models" / "default", [clip_path("d18"), still_path("s33")],
                                target=still_path("s0"), output_dir=tmp_path,
                                settings=QualitySettings(max_frames=2, sheet_rows=1))
    manifest = json.loads((repo_root / "models" / "default" / "manifest.json").read_text())
    assert report["model"]["input_size"] == manifest["input_size"] and report["target"]["faces"] == 1
    assert len(report["load_average"]["start"]) == 3
    clip, no_face = report["media"]
    assert clip["frames"] == 2 and "judged_target_share" in clip["identity"]
    assert "error" in no_face and "s33.jpg" in no_face["error"]
    assert json.loads((tmp_path / "quality.json").read_text())["media"][0]["media"] == "d18.mp4"
    assert (tmp_path / "d18_mp4.png").is_file()
    assert "| frames judged target |" in (tmp_path / "quality.md").read_text()


def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path, still_path):
    taken = tmp_path / "results"
    taken.write_text("")
    with pytest.raises(InputError, match=r"results: is a file"):
        evaluate_model(PassThroughModel(FaceLayout(64, 0.0)), [still_path("s0")], still_path("s0"), output_dir=taken)


def test_variants_are_parsed_like_the_command_line():
    from faceswap.swapping.frame_swapper import SwapSettings

    base = SwapSettings(color="none")
    name, settings = swap_variant(base, "feathered:blend=feather,edge-fade=0.2")
    assert name == "feathered" and settings.blend == "feather" and settings.edge_fade == 0.2
    assert settings.color == "none"  # the rest stays as the base run's
    assert swap_variant(base, "max_faces=1") == ("max_faces=1", SwapSettings(color="none", max_faces=1))
    with pytest.raises(FaceswapError, match="'colour=none' is not KEY=VALUE of a swap setting"):
        swap_variant(base, "colour=none")
    with pytest.raises(FaceswapError, match="bad value"):
        swap_variant(base, "edge_fade=wide")
    # the face mask's shape: mask.<field>, the other mask fields kept from the base run
    name, settings = swap_variant(base, "wide:mask.erode=-0.02,mask.forehead=0.5,sharpen=0")
    assert name == "wide" and settings.sharpen == 0 and settings.color == "none"
    assert (settings.mask.erode, settings.mask.forehead, settings.mask.feather) == (-0.02, 0.5, base.mask.feather)
    with pytest.raises(FaceswapError, match="'mask.blur=3' is not KEY=VALUE"):
        swap_variant(base, "mask.blur=3")
    with pytest.raises(FaceswapError, match="bad value"):
        swap_variant(base, "mask.erode=more")


def test_variants_are_measured_side_by_side(still_path, tmp_path):
    from faceswap.swapping.frame_swapper import SwapSettings

    report = evaluate_model(PassThroughModel(FaceLayout(64, 0.0)), [still_path("s0")], still_path("s1"),
                            output_dir=tmp_path, variants={"no colour": SwapSettings(color="none")})
    variant = report["variants"]["no colour"]
    assert variant["swap_settings"]["color"] == "none" and report["swap_settings"]["color"] != "none"
    assert variant["media"][0]["media"] == "s0.jpg" and "identity" in variant["media"][0]
    assert (tmp_path / "s0_jpg.png").is_file() and (tmp_path / "s0_jpg_no-colour.png").is_file()


def test_the_target_is_described_once_for_many_models(still_path, monkeypatch):
    from faceswap.evaluation import benchmark as module

    calls = []
    real = module.load_target_identity
    monkeypatch.setattr(module, "load_target_identity", lambda *args: calls.append(args) or real(*args))
    for size in (64, 96):
        report = evaluate_model(PassThroughModel(FaceLayout(size, 0.0)), [], still_path("s4"))
        assert report["target"]["faces"] == 1 and report["model"]["input_size"] == size
    assert len(calls) == 1


def test_the_ceiling_is_measured_without_the_merges_motion_blur(face_detector, recogniser, d6_target):
    """The pass-through's faces carry the camera's own smear: the ceiling must not smear them again,
    while the measured model is merged exactly as asked."""
    from faceswap.evaluation.benchmark import QualityBenchmark
    from faceswap.swapping.frame_swapper import SwapSettings

    benchmark = QualityBenchmark(PassThroughModel(FaceLayout(64, 0.0)), d6_target, face_detector, recogniser,
                                 swap_settings=SwapSettings(motion_blur=0.03, sharpen=0.1))
    assert benchmark.swapper.settings.motion_blur == 0.03 and benchmark.ceiling_swapper.settings.motion_blur == 0.0
    assert benchmark.ceiling_swapper.settings.sharpen == 0.1 == benchmark.swapper.settings.sharpen


def test_shimmer_in_the_faces_own_frame_reads_in_the_registered_flicker(make_benchmark, d6_target, clip_path,
                                                                       tmp_path):
    """Noise drawn afresh each frame is change the input does not have, wherever the head is: the
    registered flicker of such a model is far over the pass-through's (which measures 1.0 against
    itself: the same matrices cut out input and ceiling), and over 1."""
    result = make_benchmark(ShimmeringModel(FaceLayout(64, 0.0)), d6_target, encode=False).evaluate(
        clip_path("d18"), tmp_path)
    assert result["ceiling_registered_flicker_ratio"] < 1.3
    assert result["registered_flicker_ratio"] > result["ceiling_registered_flicker_ratio"] + 0.5
