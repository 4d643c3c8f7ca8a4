"""Loss history of a training run: ``loss.csv`` (iteration, loss_a, loss_b, seconds) and ``loss.png``.

Rows are kept in memory and appended to the CSV at every save; on resume the rows after the
checkpoint's iteration are dropped (the resumed run trains them again).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from faceswap.training.checkpoint import atomic_write_bytes

HEADER = ("iteration", "loss_a", "loss_b", "seconds")


class LossLog:
    """Loss per iteration; ``path`` is the CSV file."""

    def __init__(self, path: str | Path, keep_until: int | None = None) -> None:
        self.path = Path(path)
        self.rows: list[tuple[int, float, float, float]] = []
        if self.path.exists():
            with open(self.path, newline="") as handle:
                for row in csv.DictReader(handle):
                    try:
                        entry = (int(row["iteration"]), float(row["loss_a"]), float(row["loss_b"]), float(row["seconds"]))
                    except (KeyError, TypeError, ValueError):
                        continue  # a torn or foreign line: skip it, the rest is still useful
                    if keep_until is None or entry[0] <= keep_until:
                        self.rows.append(entry)

    def add(self, iteration: int, loss_a: float, loss_b: float, seconds: float) -> None:
        self.rows.append((int(iteration), float(loss_a), float(loss_b), round(float(seconds), 3)))

    def save(self) -> None:
        """Rewrite the CSV atomically with every row."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(HEADER)
        for iteration, loss_a, loss_b, seconds in self.rows:
            writer.writerow((iteration, f"{loss_a:.6f}", f"{loss_b:.6f}", f"{seconds:.3f}"))
        data = text.getvalue().encode("utf-8")
        atomic_write_bytes(self.path, lambda handle: handle.write(data))

    def mean_loss(self, first: int, last: int) -> tuple[float, float]:
        """Mean (loss_a, loss_b) over iterations first..last inclusive (nan if none)."""
        values = np.array([(a, b) for i, a, b, _ in self.rows if first <= i <= last], dtype=np.float64)
        if not len(values):
            return float("nan"), float("nan")
        return float(values[:, 0].mean()), float(values[:, 1].mean())

    def plot(self, path: str | Path, title: str = "training loss") -> None:
        """Write a PNG plot of both losses (raw and smoothed) with matplotlib's Agg backend."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        if not self.rows:
            return
        data = np.array([(i, a, b) for i, a, b, _ in self.rows], dtype=np.float64)
        figure = Figure(figsize=(8, 4.5), dpi=100)
        axes = figure.add_subplot(1, 1, 1)
        window = max(1, len(data) // 50)
        kernel = np.ones(window) / window
        for column, label, colour in ((1, "loss A", "tab:blue"), (2, "loss B", "tab:orange")):
            axes.plot(data[:, 0], data[:, column], color=colour, alpha=0.25, linewidth=0.7)
            if len(data) >= window:
                smooth = np.convolve(data[:, column], kernel, mode="valid")
                axes.plot(data[window - 1:, 0], smooth, color=colour, label=f"{label} (mean of {window})")
        axes.set_xlabel("iteration")
        axes.set_ylabel("loss (DSSIM + MSE, masked)")
        axes.set_yscale("log")
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        data_bytes = buffer.getvalue()
        atomic_write_bytes(Path(path), lambda handle: handle.write(data_bytes))
