"""What arithmetic a TFLite swap model does: ``tflite_precision(path) -> dict``.

Used by the export tests and the model-variants benchmark to tell the exported variants apart
(faceswap.export.exporter.QUANTIZATIONS): a full-integer model computes every operator in int8
and converts only at its boundary (one QUANTIZE of the float32 faces, one DEQUANTIZE of the
result); a dynamic-range model keeps float activations with int8 weights; float16/float32 models
compute in float32. Reads the model with ai-edge-litert (no TensorFlow).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

BOUNDARY_OPS = ("QUANTIZE", "DEQUANTIZE")


def tflite_precision(path: str | Path) -> dict:
    """Summary of ``path``'s operators: ``input_dtype`` / ``output_dtype`` (numpy names),
    ``op_output_dtypes`` (dtype -> count over all operators but the boundary QUANTIZE/DEQUANTIZE),
    ``float_ops`` (names of those operators with a float output) and ``full_integer`` (no such
    operator). ValueError if the file is not a TFLite model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=_builtin_without_delegates())
    interpreter.allocate_tensors()
    tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    dtypes: Counter = Counter()
    float_ops: list[str] = []
    for op in interpreter._get_ops_details():  # the public API has no per-operator view
        if op["op_name"] in BOUNDARY_OPS or op["op_name"] == "DELEGATE":
            continue
        for index in op["outputs"]:
            name = tensors[index]["dtype"].__name__
            dtypes[name] += 1
            if name.startswith("float"):
                float_ops.append(op["op_name"])
    return {"input_dtype": interpreter.get_input_details()[0]["dtype"].__name__,
            "output_dtype": interpreter.get_output_details()[0]["dtype"].__name__,
            "op_output_dtypes": dict(sorted(dtypes.items())),
            "float_ops": sorted(set(float_ops)),
            "full_integer": not float_ops}


def _builtin_without_delegates():
    from ai_edge_litert.interpreter import OpResolverType

    return OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
