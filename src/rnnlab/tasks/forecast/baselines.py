"""Classical forecasters a recurrent model must beat, on windows [N, seq_len] -> forecasts [N, horizon]."""

from __future__ import annotations

import numpy as np


def naive_forecast(windows: np.ndarray, horizon: int) -> np.ndarray:
    """The last value, repeated: the best forecast of a random walk."""
    return np.repeat(windows[:, -1:], horizon, axis=1)


def drift_forecast(windows: np.ndarray, horizon: int) -> np.ndarray:
    """The line through the window's first and last values, extended."""
    slope = (windows[:, -1] - windows[:, 0]) / (windows.shape[1] - 1)
    return windows[:, -1:] + slope[:, None] * np.arange(1, horizon + 1)


def seasonal_naive_forecast(values: np.ndarray, starts: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The value one season before each target (two seasons before when the horizon passes a season):
    the best simple forecast of a series that repeats every `season` steps. Read from the whole series,
    so a season longer than the window still has its value."""
    steps = np.arange(horizon)
    return values[starts[:, None] + steps - season * (steps // season + 1)]


class LinearAutoregression:
    """Least squares from the window (plus an intercept) to the next `horizon` values."""

    def __init__(self, train_windows: np.ndarray, train_targets: np.ndarray) -> None:
        design = np.hstack([train_windows, np.ones((len(train_windows), 1))])
        self.coef, *_ = np.linalg.lstsq(design, train_targets, rcond=None)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return np.hstack([windows, np.ones((len(windows), 1))]) @ self.coef
