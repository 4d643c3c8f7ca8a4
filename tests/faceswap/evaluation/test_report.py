"""The benchmark report as a Markdown table."""

from __future__ import annotations

from faceswap.evaluation.report import markdown_table


def test_one_column_per_medium_and_variant_with_errors_and_gaps_marked():
    clip = {"media": "d12.mp4", "identity": {"output_to_target": 0.6041, "judged_target_share": 0.4778},
            "detail": {"ratio": 0.42, "ceiling_ratio": 0.66, "share_of_ceiling": 0.63},
            "expression": {"mouth_correlation": 0.83, "eye_correlation": None},
            "pose_error_deg": {"yaw": 4.16, "pitch": 5.12, "roll": 1.49, "mean": 3.59}, "face_kept": 1.0}
    report = {"model_dir": "models/default", "model": {"input_size": 64, "iterations": 8623},
              "target": {"source": "d6.mp4", "first_frame": 900, "faces": 60, "spread": 0.29},
              "load_average": {"start": [1.5, 1, 1], "end": [2.0, 1, 1], "cpus": 2},
              "media": [clip, {"media": "broken.mp4", "error": "broken.mp4: unreadable"}],
              "variants": {"no colour": {"media": [clip]}}}
    text = markdown_table(report)
    assert "target d6.mp4 frames 900+ (60 faces" in text and "load average 1.5 → 2.0 on 2 CPUs" in text
    assert "| measure | d12.mp4 | broken.mp4 | d12.mp4 (no colour) |" in text
    assert "| output distance to the target | 0.60 | error | 0.60 |" in text
    assert "| frames judged target | 48 % | error | 48 % |" in text
    assert "| eye opening correlation | — | error | — |" in text
    assert "| head-pose error yaw / pitch / roll (mean), degrees | 4.2 / 5.1 / 1.5 (3.6) | error |" in text
