"""Loss history of a training run: ``loss.csv`` (iteration, loss_a, loss_b, seconds) and ``loss.png``.

Rows are kept in memory and appended to the CSV at every save; on resume the rows after the
checkpoint's iteration are dropped (the resumed run trains them again).

A run with adversarial parts (``--gan-power``, ``--true-face-power``) also records their two
losses per iteration in further columns (``ADVERSARIAL_COLUMNS``; empty where a part was off), and
``loss.png`` gets a second panel with them: a discriminator's binary cross-entropy near ln 2 = 0.69
means it cannot tell real from drawn, one falling towards 0 means it wins and its generator term
stops teaching (DeepFaceLab shows the same pair). A CSV of a run without them keeps the four columns.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from faceswap.training.checkpoint import atomic_write_bytes

HEADER = ("iteration", "loss_a", "loss_b", "seconds")
# (column, label) of the adversarial losses, in the CSV's order after HEADER: the patch / U-Net GAN
# (training/patch_gan.py) and the code discriminator of true face power (training/true_face.py)
ADVERSARIAL_COLUMNS = (("gan_discriminator", "GAN discriminator"), ("gan_generator", "GAN generator"),
                       ("true_face_discriminator", "true face discriminator"),
                       ("true_face_encoder", "true face encoder"))
ADVERSARIAL_NAMES = tuple(name for name, _ in ADVERSARIAL_COLUMNS)


class LossLog:
    """Loss per iteration; ``path`` is the CSV file."""

    def __init__(self, path: str | Path, keep_until: int | None = None) -> None:
        self.path = Path(path)
        self.rows: list[tuple[int, float, float, float]] = []
        self.adversarial: dict[int, dict[str, float]] = {}   # iteration -> {column: loss}, where recorded
        if self.path.exists():
            with open(self.path, newline="") as handle:
                for row in csv.DictReader(handle):
                    try:
                        entry = (int(row["iteration"]), float(row["loss_a"]), float(row["loss_b"]), float(row["seconds"]))
                    except (KeyError, TypeError, ValueError):
                        continue  # a torn or foreign line: skip it, the rest is still useful
                    if keep_until is None or entry[0] <= keep_until:
                        self.rows.append(entry)
                        losses = _adversarial_cells(row)
                        if losses:
                            self.adversarial[entry[0]] = losses

    def add(self, iteration: int, loss_a: float, loss_b: float, seconds: float,
            adversarial: Mapping[str, float] | None = None) -> None:
        """One iteration's losses; ``adversarial``: {column of ADVERSARIAL_COLUMNS: loss} of the parts
        that trained (ValueError for another column name)."""
        self.rows.append((int(iteration), float(loss_a), float(loss_b), round(float(seconds), 3)))
        if adversarial:
            unknown = set(adversarial).difference(ADVERSARIAL_NAMES)
            if unknown:
                raise ValueError(f"not adversarial loss columns: {sorted(unknown)}")
            self.adversarial[int(iteration)] = {name: float(value) for name, value in adversarial.items()}

    def save(self) -> None:
        """Rewrite the CSV atomically with every row."""
        text = io.StringIO()
        writer = csv.writer(text)
        kept = {iteration for iteration, *_ in self.rows}
        recorded = {name for iteration, losses in self.adversarial.items() if iteration in kept for name in losses}
        extra = [name for name in ADVERSARIAL_NAMES if name in recorded]
        writer.writerow((*HEADER, *extra))
        for iteration, loss_a, loss_b, seconds in self.rows:
            losses = self.adversarial.get(iteration, {})
            writer.writerow((iteration, f"{loss_a:.6f}", f"{loss_b:.6f}", f"{seconds:.3f}",
                             *(f"{losses[name]:.6f}" if name in losses else "" for name in extra)))
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
        adversarial = self._adversarial_table()
        figure = Figure(figsize=(8, 7.5 if adversarial is not None else 4.5), dpi=100)
        axes = figure.add_subplot(2 if adversarial is not None else 1, 1, 1)
        window = max(1, len(data) // 50)
        for column, label, colour in ((1, "loss A", "tab:blue"), (2, "loss B", "tab:orange")):
            _plot_series(axes, data[:, 0], data[:, column], window, label, colour)
        if adversarial is not None:
            lower = figure.add_subplot(2, 1, 2)
            colours = ("tab:red", "tab:purple", "tab:green", "tab:brown")
            for index, ((name, label), colour) in enumerate(zip(ADVERSARIAL_COLUMNS, colours)):
                present = ~np.isnan(adversarial[:, index + 1])
                if present.any():
                    _plot_series(lower, adversarial[present, 0], adversarial[present, index + 1],
                                 max(1, int(present.sum()) // 50), label, colour)
            lower.axhline(math.log(2), color="grey", linestyle="--", linewidth=0.8,
                          label="ln 2: a discriminator that cannot tell")
            lower.set_xlabel("iteration")
            lower.set_ylabel("adversarial loss (cross-entropy)")
            lower.set_yscale("log")     # a winning discriminator's 0.03 and its generator's 9 on one panel
            lower.grid(True, alpha=0.3)
            lower.legend(fontsize="small")
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

    def _adversarial_table(self) -> np.ndarray | None:
        """(N, 1 + len(ADVERSARIAL_COLUMNS)) float64: iteration, then each column's loss (nan where not
        recorded), for the kept rows that have any; None if none has."""
        table = [(iteration, *(self.adversarial[iteration].get(name, math.nan) for name in ADVERSARIAL_NAMES))
                 for iteration, *_ in self.rows if iteration in self.adversarial]
        return np.array(table, dtype=np.float64) if table else None


def _adversarial_cells(row: Mapping[str, str | None]) -> dict[str, float]:
    """The adversarial losses of one CSV row (a DictReader row): the columns present and filled."""
    losses = {}
    for name in ADVERSARIAL_NAMES:
        try:
            losses[name] = float(row[name])
        except (KeyError, TypeError, ValueError):
            continue   # the column is absent (a run without that part) or empty (the part was off then)
    return losses


def _plot_series(axes, x: np.ndarray, y: np.ndarray, window: int, label: str, colour: str) -> None:
    """``y`` against ``x`` faintly, and its running mean over ``window`` points over it."""
    axes.plot(x, y, color=colour, alpha=0.25, linewidth=0.7)
    if len(y) >= window:
        smooth = np.convolve(y, np.ones(window) / window, mode="valid")
        axes.plot(x[window - 1:], smooth, color=colour, label=f"{label} (mean of {window})")
