"""JSON from outside, with a bound on nesting: deeply nested input gets a clear ValueError.

Python's json module parses and serialises recursively. A 2 KB body of ~1000 nested ``[`` fits
under the interpreter's recursion limit when parsed, then raises RecursionError wherever it is
walked again (``json.dumps`` when the relay forwards it, ``repr`` in an error message) — an
internal error instead of a client error. Every tier therefore parses client JSON with
``loads_limited``, which raises ValueError (the tiers answer it as a 4xx-style error) for text
nested deeper than ``max_depth`` levels. Pure Python: the relay deploys without the model stack.

``ONLINE_PREDICTION_LIMIT_BYTES`` is the other bound every tier shares: the largest prediction
request body (and frame) — the relay's client refuses bigger ones before sending, the prediction
server and routine refuse them on arrival.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32
ONLINE_PREDICTION_LIMIT_BYTES = 1_572_864  # 1.5 MB: Google's online-prediction request limit


def nesting_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of lists/dicts in ``value`` (a scalar is 0); stops counting past ``limit``.

    Iterative, so it never raises RecursionError itself.
    """
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def loads_limited(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)``, raising ValueError (json.JSONDecodeError for bad syntax) when the
    value is nested deeper than ``max_depth`` levels of objects/arrays."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"the JSON is nested too deeply (more than {max_depth} levels)") from None
    if nesting_depth(value, max_depth) > max_depth:
        raise ValueError(f"the JSON is nested too deeply (more than {max_depth} levels)")
    return value
