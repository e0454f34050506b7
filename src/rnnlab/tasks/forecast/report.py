"""What a forecaster's test pass draws: the forecast against the actual series, and the autoregressive rollout."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from rnnlab.figures import line_figure

BASELINE_LABELS = {"naive": "naive (last value)", "drift": "drift", "linear": "linear AR", "oracle": "noise floor"}


def forecast_figure(
    starts: np.ndarray, actual: np.ndarray, prediction: np.ndarray, references: dict[str, np.ndarray]
) -> Figure:
    lines = {"actual": (starts, actual[:, 0]), "model": (starts, prediction[:, 0])}
    for name in ("naive", "linear"):
        lines[BASELINE_LABELS[name]] = (starts, references[name][:, 0])
    return line_figure("Forecast vs actual on the test span (first step)", "time index", "value", lines)


def rollout_figure(rollout: dict[str, list[float]]) -> Figure:
    steps = list(range(1, len(rollout["model_rmse"]) + 1))
    lines = {"model, fed its own predictions": (steps, rollout["model_rmse"]),
             "naive (last value)": (steps, rollout["naive_rmse"])}
    return line_figure("Autoregressive generation on the test span", "steps ahead", "RMSE", lines)
