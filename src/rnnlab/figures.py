"""Matplotlib figures a run leaves behind (headless: the Agg backend, no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

Line = tuple[Sequence[float], Sequence[float]]


def line_figure(title: str, xlabel: str, ylabel: str, lines: dict[str, Line], *, log_y: bool = False) -> Figure:
    """One axes with a labelled line per entry of `lines` (label -> (x, y))."""
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    for label, (x, y) in lines.items():
        axes.plot(x, y, label=label, linewidth=1.4, marker="o" if len(x) <= 30 else None, markersize=3)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if log_y:
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
