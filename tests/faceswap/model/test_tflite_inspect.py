"""What arithmetic a TFLite swap model does (faceswap/model/tflite_inspect.py), on the bundled model."""

from __future__ import annotations

import pytest

from faceswap.model.tflite_inspect import tflite_precision


def test_the_bundled_dynamic_range_model_computes_in_float(repo_root):
    precision = tflite_precision(repo_root / "models" / "default" / "swap_a2b.tflite")
    assert precision["input_dtype"] == precision["output_dtype"] == "float32"
    assert not precision["full_integer"]
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(precision["float_ops"])
    assert precision["op_output_dtypes"]["float32"] > 10


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "swap_a2b.tflite"
    path.write_bytes(b"not a flatbuffer" * 8)
    with pytest.raises(ValueError):
        tflite_precision(path)
