"""Quality against training iterations: the quality benchmark on every checkpoint snapshot.

    python scripts/default_model/quality_vs_iterations.py workspace/default/model/snapshots \
        --output docs/images/default-model-quality-vs-iterations.png \
        ../shared/data/clips/d12.mp4 ../shared/data/clips/d18.mp4

Each snapshot (``iteration-<N>.npz`` with its parts, written by snapshot_checkpoints.py) is loaded
into the Keras networks (no export needed) and evaluated with faceswap.evaluation's benchmark on the held-out
clips against the target's held-out tail. Writes one JSON per snapshot next to it (reused on the
next run), a JSON summary and a plot of identity, judged-target share and detail vs iterations,
so the stopping point is a measurement. ``--code-shift S`` measures the snapshots as exported with
``export --code-shift S`` (faceswap/model/code_shift.py; their training faces must be here), and
``--code-subspace K`` with ``export --code-subspace K``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from faceswap.evaluation.benchmark import QualitySettings, evaluate_model  # noqa: E402
from faceswap.export.exporter import checkpoint_code_shift, swap_models  # noqa: E402
from faceswap.model.architecture import build_autoencoders  # noqa: E402
from faceswap.settings import settings_from  # noqa: E402
from faceswap.swapping.frame_swapper import SwapSettings  # noqa: E402
from faceswap.training.checkpoint import Checkpoint, is_part_path, read_checkpoint  # noqa: E402


class KerasSnapshotModel:
    """A training snapshot as a swap model for the benchmark: ``swap(faces, direction)`` with faces
    BGR float32 (N, S, S, 3) in [0, 1] (the same contract as faceswap.model.runtime.SwapModel)."""

    def __init__(self, checkpoint: Checkpoint, code_shift: float = 0.0, code_subspace: int = 0) -> None:
        self.networks = build_autoencoders(checkpoint.config)
        checkpoint.restore_networks(self.networks)
        shift, self.code_shift = checkpoint_code_shift(self.networks, checkpoint.meta.get("sides", {}), code_shift,
                                                        subspace=code_subspace)
        self.input_size = checkpoint.config.input_size
        self.layout = checkpoint.config.layout
        self.manifest = {"config": checkpoint.config.name, "iterations": checkpoint.iteration,
                         "code_shift": self.code_shift}
        self.model_dir = checkpoint.path
        self.backend = "keras"
        self._models = swap_models(self.networks, shift)

    def swap(self, faces: np.ndarray, direction: str) -> np.ndarray:
        faces = np.ascontiguousarray(faces, dtype=np.float32)
        if len(faces) == 0:
            return faces
        return np.clip(np.asarray(self._models[direction](faces, training=False), dtype=np.float32), 0.0, 1.0)


def snapshot_paths(folder: Path) -> list[Path]:
    """The snapshots ``iteration-<N>.npz`` in ``folder`` by iteration (their part files left out)."""
    return sorted(path for path in folder.glob("iteration-*.npz") if not is_part_path(path))


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options shared with ablations.py: target, its held-out first frame, frames per clip."""
    parser.add_argument("--target", default="../shared/data/clips/d6.mp4")
    parser.add_argument("--target-first-frame", type=int, default=900)
    parser.add_argument("--max-frames", type=int, default=30)
    parser.add_argument("--code-shift", type=float, default=0.0,
                        help="measure with the export's code shift at this strength (faceswap/model/code_shift.py; "
                             "the checkpoint's training faces must be here)")
    parser.add_argument("--code-subspace", type=int, default=0,
                        help="with --code-shift: the subspace map with this many of side B's principal directions, "
                             "as export --code-subspace (0 = the plain mean shift)")


def benchmark_checkpoint(checkpoint: Checkpoint, media: list[str], args: argparse.Namespace) -> dict:
    """faceswap.evaluation's benchmark report of a checkpoint's Keras weights on ``media`` against
    ``args.target`` (options of ``add_benchmark_arguments``; no contact sheets). The swap pipeline
    is convert's defaults, overridable as convert's are by FACESWAP_SWAP_<NAME> (e.g.
    FACESWAP_SWAP_TEMPORAL=0 to compare with readings taken before the temporal filter); the
    report's ``swap_settings`` say which."""
    settings = QualitySettings(max_frames=args.max_frames, target_first_frame=args.target_first_frame, sheet_rows=0)
    swap_settings = settings_from(SwapSettings, env_prefix="FACESWAP_SWAP_")
    model = KerasSnapshotModel(checkpoint, args.code_shift, getattr(args, "code_subspace", 0))
    return evaluate_model(model, media, args.target, settings, swap_settings)


def summarise(report: dict) -> dict:
    """Per medium: distance to the target, judged-target share, detail share of the ceiling, mouth and
    eye correlations, flicker ratio (None where not measured)."""
    rows = {}
    for medium in report["media"]:
        if "error" in medium:
            continue
        identity, detail = medium.get("identity", {}), medium.get("detail", {})
        rows[medium["media"]] = {"output_to_target": identity.get("output_to_target"),
                                 "judged_target": identity.get("judged_target_share"),
                                 "detail_share_of_ceiling": detail.get("share_of_ceiling"),
                                 "mouth_correlation": medium.get("expression", {}).get("mouth_correlation"),
                                 "eye_correlation": medium.get("expression", {}).get("eye_correlation"),
                                 "flicker_ratio": medium.get("flicker_ratio")}
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshots", type=Path, help="folder of iteration-<N>.npz snapshots")
    parser.add_argument("media", nargs="+", help="held-out clips/stills")
    add_benchmark_arguments(parser)
    parser.add_argument("--multiples-of", type=int, default=1, help="evaluate only snapshots whose iteration "
                                                                      "is a multiple of this")
    parser.add_argument("--output", type=Path, required=True, help="plot (.png); the summary goes beside it (.json)")
    args = parser.parse_args()
    summary = {}
    for path in snapshot_paths(args.snapshots):
        if int(path.stem.split("-")[1]) % args.multiples_of:
            continue
        mapped = f"-shift{args.code_shift:g}" if args.code_shift else ""
        mapped += f"-subspace{args.code_subspace}" if args.code_shift and args.code_subspace else ""
        cached = path.with_suffix(f".quality{mapped}.json")
        if cached.exists():
            report = json.loads(cached.read_text())
        else:
            report = benchmark_checkpoint(read_checkpoint(path), args.media, args)
            cached.write_text(json.dumps(report, indent=1))
        iteration = int(path.stem.split("-")[1])
        summary[iteration] = {"media": summarise(report), "load_average": report.get("load_average")}
        print(iteration, json.dumps(summary[iteration]["media"]), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps({"cpus": os.cpu_count(), "snapshots": summary}, indent=1))
    plot(summary, args.output)
    return 0


def plot(summary: dict, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    iterations = sorted(summary)
    media = sorted({name for entry in summary.values() for name in entry["media"]})
    measures = [("output_to_target", "distance to target (goal <= 0.45)"),
                ("judged_target", "share judged target (goal >= 0.9)"),
                ("detail_share_of_ceiling", "detail / ceiling (goal >= 0.9)")]
    figure, axes = plt.subplots(1, len(measures), figsize=(5 * len(measures), 3.6))
    for axis, (key, title) in zip(axes, measures):
        for name in media:
            values = [summary[i]["media"].get(name, {}).get(key) for i in iterations]
            axis.plot(iterations, [np.nan if v is None else v for v in values], marker="o", label=name)
        axis.set_title(title)
        axis.set_xlabel("iterations")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(output, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
