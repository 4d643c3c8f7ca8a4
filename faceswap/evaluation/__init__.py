"""Evaluation: how good a model's swaps are, measured the way the field measures them.

* ``benchmark`` — the quality benchmark (``evaluate_model_dir``, ``QualityBenchmark``,
  ``QualitySettings``): identity, detail and its resolution ceiling, expression, pose, landmarks,
  flicker, face kept, contact sheets; run by scripts/benchmarks/quality_benchmark.py;
* ``identity`` — dlib's ResNet face descriptor and the target person's mean descriptor;
* ``detail`` — variance of the Laplacian in the inner face;
* ``expression`` — mouth and eye opening from the landmarks, their correlation;
* ``head_pose`` — yaw, pitch, roll with solvePnP on a 3-D mean face;
* ``passthrough`` — the model that returns its input crop (the resolution ceiling);
* ``encoding`` — the H.264 round trip outputs go through before they are measured;
* ``contact_sheet`` — the PNG per clip;
* ``report`` — the report as a Markdown table (quality.md);
* ``reconstruction`` — B -> B SSIM on held-out faces.

See docs/quality-benchmark.md.
"""
