"""The quality benchmark's report as a Markdown table: one row per measure, one column per clip or
still (and per variant), for docs and closing notes. Input: the dict of
``faceswap.evaluation.benchmark.evaluate_model``."""

from __future__ import annotations


def _get(entry: dict, path: str):
    value = entry
    for key in path.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value


def _number(digits: int):
    return lambda value: f"{value:.{digits}f}"


def _percent(value) -> str:
    return f"{100 * value:.0f} %"


def _pose(entry: dict):
    pose = _get(entry, "pose_error_deg")
    if not pose:
        return None
    return f"{pose['yaw']:.1f} / {pose['pitch']:.1f} / {pose['roll']:.1f} ({pose['mean']:.1f})"


def _gaze(entry: dict):
    value, ceiling = _get(entry, "gaze_error"), _get(entry, "ceiling_gaze_error")
    if value is None:
        return None
    return f"{value:.3f}" + (f" ({ceiling:.3f})" if ceiling is not None else "")


def _tone(entry: dict):
    value, ceiling = _get(entry, "tone_error"), _get(entry, "ceiling_tone_error")
    if value is None:
        return None
    return f"{value:.1f}" + (f" ({ceiling:.1f})" if ceiling is not None else "")


ROWS = (
    ("output distance to the target", "identity.output_to_target", _number(2)),
    ("output distance to the source frame", "identity.output_to_source", _number(2)),
    ("input distance to the target (baseline)", "identity.input_to_target", _number(2)),
    ("frames judged target", "identity.judged_target_share", _percent),
    ("detail, output / input", "detail.ratio", _number(2)),
    ("resolution ceiling (pass-through)", "detail.ceiling_ratio", _number(2)),
    ("detail as a share of the ceiling", "detail.share_of_ceiling", _number(2)),
    ("mouth opening correlation", "expression.mouth_correlation", _number(2)),
    ("eye opening correlation", "expression.eye_correlation", _number(2)),
    ("gaze error, eye widths (pass-through)", _gaze, None),
    ("tone error, Delta E (pass-through)", _tone, None),
    ("head-pose error yaw / pitch / roll (mean), degrees", _pose, None),
    ("landmark error / inter-ocular", "landmark_error", _number(3)),
    ("flicker, output / input", "flicker_ratio", _number(2)),
    ("flicker in the face's own frame (head motion out), output / input", "registered_flicker_ratio", _number(2)),
    ("output still has a face", "face_kept", _percent),
)


def _cell(entry: dict, source, formatter) -> str:
    if "error" in entry:
        return "error"
    value = source(entry) if callable(source) else _get(entry, source)
    if value is None:
        return "—"
    return value if formatter is None else formatter(value)


def markdown_table(report: dict) -> str:
    """A Markdown table of ``report`` (see the module docstring) with a line saying what was
    measured against what, and the load average."""
    columns = [(entry["media"], entry) for entry in report["media"]]
    for name, variant in (report.get("variants") or {}).items():
        columns += [(f"{entry['media']} ({name})", entry) for entry in variant["media"]]
    model = report.get("model", {})
    target = report.get("target", {})
    load = report.get("load_average", {})
    start = (load.get("start") or [None])[0]
    end = (load.get("end") or [None])[0]
    lines = [
        f"Model {report.get('model_dir') or model.get('config')} ({model.get('input_size')} px, "
        f"{model.get('iterations')} iterations), target {target.get('source')}"
        f"{' frames %s+' % target['first_frame'] if target.get('first_frame') else ''} "
        f"({target.get('faces')} faces, spread {target.get('spread')}); load average {start} → {end} "
        f"on {load.get('cpus')} CPUs.",
        "",
        "| measure | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for label, source, formatter in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(entry, source, formatter) for _, entry in columns) + " |")
    return "\n".join(lines) + "\n"
