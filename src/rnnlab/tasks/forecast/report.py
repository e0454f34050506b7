"""What a forecaster's test pass reports: forecast against actual, rollout, error per step ahead, and its
standing against the baselines (with a warning, and what to try, when it loses)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rnnlab.figures import line_figure

BASELINE_LABELS = {"naive": "naive (last value)", "seasonal_naive": "seasonal naive", "drift": "drift",
                   "linear": "linear AR", "linear_all": "linear AR on all columns",
                   "ets": "exponential smoothing (ETS)", "oracle": "noise floor"}
SHORT = 500  # fewer training windows than this: a small model is more likely to help than a longer training
TIE = 1.02  # within 2% of the naive forecast: a tie, the best possible on a random walk


def forecast_figure(
    x: np.ndarray, actual: np.ndarray, prediction: np.ndarray, references: dict[str, np.ndarray]
) -> Figure:
    """The first step ahead of each test window; `x` holds the targets' dates, or their index without dates."""
    lines = {"actual": (x, actual[:, 0]), "model": (x, prediction[:, 0])}
    for name in ("naive", "seasonal_naive", "linear"):
        if name in references:
            lines[BASELINE_LABELS[name]] = (x, references[name][:, 0])
    xlabel = "date" if np.issubdtype(x.dtype, np.datetime64) else "time index"
    return line_figure("Forecast vs actual on the test span (first step)", xlabel, "value", lines)


def rollout_figure(rollout: dict[str, list[float]]) -> Figure:
    steps = list(range(1, len(rollout["model_rmse"]) + 1))
    lines = {"model, fed its own predictions": (steps, rollout["model_rmse"]),
             "naive (last value)": (steps, rollout["naive_rmse"])}
    return line_figure("Autoregressive generation on the test span", "steps ahead", "RMSE", lines)


def per_step_rmse(forecasts: dict[str, np.ndarray], actual: np.ndarray) -> dict[str, list[float]]:
    """RMSE at each step ahead (data.horizon > 1): errors grow with the step, and the mean hides how fast."""
    return {f"{name}_rmse": np.sqrt(((forecast - actual) ** 2).mean(axis=0)).tolist()
            for name, forecast in forecasts.items()}


def per_step_table(per_step: dict[str, list[float]]) -> str:
    names = list(per_step)
    rows = [f"{'step':>4}  " + "  ".join(f"{name:>20}" for name in names)]
    for step in range(len(per_step[names[0]])):
        rows.append(f"{step + 1:>4}  " + "  ".join(f"{per_step[name][step]:>20.4f}" for name in names))
    return "RMSE per step ahead (test windows)\n" + "\n".join(rows)


def per_step_figure(per_step: dict[str, list[float]]) -> Figure:
    steps = list(range(1, len(next(iter(per_step.values()))) + 1))
    lines = {BASELINE_LABELS.get(name.removesuffix("_rmse"), name.removesuffix("_rmse")): (steps, values)
             for name, values in per_step.items()}
    return line_figure("Error per step ahead on the test windows", "steps ahead", "RMSE", lines)


def compare_with_baselines(metrics: dict[str, float], seq_len: int, season: int | None, scaling: str,
                           train_windows: int) -> dict[str, Any]:
    """The best baseline by test RMSE and the model's ratio to it; when the model loses, the options most
    likely to help, picked from what the run used."""
    baselines = {name: metrics[f"test/{name}_rmse"] for name in BASELINE_LABELS
                 if name != "oracle" and f"test/{name}_rmse" in metrics}
    best = min(baselines, key=baselines.__getitem__)
    ratio = metrics["test/rmse"] / baselines[best] if baselines[best] > 0 else float("inf")
    hints = []
    if ratio > 1:
        if best == "seasonal_naive" and scaling != "seasonal-differences" and season is not None and seq_len >= season:
            hints.append("data.scaling=seasonal-differences (start from last season's value, which wins here)")
        elif scaling == "levels":
            hints.append("data.scaling=differences (log-differences for a positive series growing by percentages)")
        if season is not None and seq_len < season:
            hints.append(f"data.seq_len={2 * season} (two seasons of {season}: the window must reach last season)")
        elif season is None:
            hints.append(f"a longer data.seq_len (now {seq_len})")
        hints.append(f"a smaller model.hidden_size (only {train_windows} training windows)" if train_windows < SHORT
                     else "more training (trainer.max_epochs, callbacks.patience)")
    label = BASELINE_LABELS[best]
    if ratio <= 1:
        verdict = (f"the model beats every baseline: test RMSE {metrics['test/rmse']:.4g} is {ratio:.2f}x the best "
                   f"baseline's ({label}, {baselines[best]:.4g})")
    else:
        tie = " (within 2% of the last value: a tie, the best possible on a random walk)" \
            if best == "naive" and ratio <= TIE else ""
        verdict = (f"warning: the model loses to the {label} baseline: test RMSE {metrics['test/rmse']:.4g} is "
                   f"{ratio:.2f}x its {baselines[best]:.4g}{tie}; try {'; '.join(hints)}")
    return {"best_baseline": best, "best_baseline_rmse": baselines[best], "rmse_ratio": ratio,
            "loses": ratio > 1, "hints": hints, "verdict": verdict}


def describe_series(summary: dict[str, Any]) -> str:
    """One line on what was forecast: points, dates, gaps, missing values, season, strategy, the scaling chosen."""
    parts = [f"series {summary['source']}: {summary['points']} points"]
    dates = summary.get("dates")
    if dates:
        parts.append(f"{dates['frequency']} {dates['first']} .. {dates['last']}, "
                     + (f"{dates['gaps']} gaps ({dates['missing_points']} points missing)" if dates["gaps"]
                        else "no gaps"))
    if summary.get("missing"):
        parts.append(f"{summary['missing']['count']} missing values ({summary['missing']['policy']})")
    if summary.get("columns"):
        parts.append(f"{len(summary['columns'])} input columns beside the target")
    parts.append(f"season {summary['season'] or 'none'}")
    if summary.get("strategy") == "recursive":
        parts.append("strategy recursive (one step at a time, fed its own forecasts)")
    scaling = summary["scaling"]
    proxies = ", ".join(f"{name} {value:.4g}" for name, value in scaling["validation_rmse"].items())
    parts.append(f"scaling {scaling['requested']} -> {scaling['chosen']} (validation RMSE of the linear "
                 f"proxies and naive forecasts: {proxies})")
    return "; ".join(parts)
