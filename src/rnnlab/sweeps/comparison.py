"""`comparison.png` of a sweep: validation curves per variant (mean over seeds) and the headline test
metric per variant with error bars (std over seeds)."""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rnnlab.figures import save_figure
from rnnlab.sweeps.variants import short_labels
from rnnlab.tasks.registry import load_tasks


def headline_metric(result: dict[str, Any], variants: list[dict[str, Any]]) -> str | None:
    """The test metric the bar chart shows: the task's headline (registry), else the monitored metric's test twin."""
    twin = "test/" + result.get("monitor", "").partition("/")[2]
    task = load_tasks().get(result.get("task", ""))
    for name in (task.headline if task else None, twin):
        if name and any(row.get(f"{name}_mean") is not None for row in variants):
            return name
    return None


def mean_curve(histories: list[list[dict[str, float]]], metric: str) -> tuple[list[int], list[float], list[float]]:
    """Epoch -> mean and std over the seeds that reached that epoch (early stopping ends seeds apart)."""
    by_epoch: dict[int, list[float]] = {}
    for history in histories:
        for row in history:
            if metric in row:
                by_epoch.setdefault(int(row["epoch"]), []).append(float(row[metric]))
    epochs = sorted(by_epoch)
    means = [statistics.fmean(by_epoch[e]) for e in epochs]
    stds = [statistics.stdev(by_epoch[e]) if len(by_epoch[e]) > 1 else 0.0 for e in epochs]
    return epochs, means, stds


def write_comparison(sweep: Path, jobs: list[dict[str, Any]], variants: list[dict[str, Any]]) -> Path | None:
    """Draw the sweep's comparison into `<sweep>/comparison.png`; None when no job finished."""
    results: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        if job.get("status") == "ok":
            result = json.loads((sweep / job["job"] / "metrics.json").read_text())
            results.setdefault(job["variant"], []).append(result)
    if not results:
        return None
    first = next(iter(results.values()))[0]
    monitor, metric = first["monitor"], headline_metric(first, variants)
    labels = {variant: textwrap.fill(label, 32, break_long_words=False)
              for variant, label in short_labels([row["variant"] for row in variants]).items()}
    figure = Figure(figsize=(13, 5), dpi=100)  # no pyplot: nothing global, any backend
    curves, bars = figure.subplots(1, 2, width_ratios=(3, 2))
    colors: dict[str, str] = {}
    all_epochs: set[int] = set()
    for variant, finished in results.items():
        epochs, means, stds = mean_curve([r.get("history", []) for r in finished], monitor)
        line, = curves.plot(epochs, means, marker="o" if len(epochs) <= 30 else None, markersize=3,
                            label=f"{labels[variant]} (n={len(finished)})")
        curves.fill_between(epochs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                            color=line.get_color(), alpha=0.15)
        colors[variant] = line.get_color()
        all_epochs.update(epochs)
    curves.set(title=f"{monitor} per epoch (mean ± std over seeds)", xlabel="epoch", ylabel=monitor)
    if monitor.endswith("loss"):
        curves.set_yscale("log")
    if len(all_epochs) <= 20:
        curves.set_xticks(sorted(all_epochs))
    else:
        curves.xaxis.set_major_locator(MaxNLocator(integer=True))
    curves.grid(alpha=0.3)
    curves.legend(fontsize=8)
    shown = [row for row in variants if metric and row.get(f"{metric}_mean") is not None]
    bars.barh(range(len(shown)), [row[f"{metric}_mean"] for row in shown],
              xerr=[row[f"{metric}_std"] or 0.0 for row in shown], capsize=4, alpha=0.8,
              color=[colors.get(row["variant"], "tab:gray") for row in shown])
    bars.set_yticks(range(len(shown)), [labels[row["variant"]] for row in shown], fontsize=8)
    bars.invert_yaxis()  # the first variant on top, as in the legend
    bars.set(title=f"{metric or 'no test metric'} (mean ± std over seeds)", xlabel=metric or "")
    bars.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    path = sweep / "comparison.png"
    save_figure(figure, path)
    return path
