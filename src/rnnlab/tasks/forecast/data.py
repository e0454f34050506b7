"""Forecasting data: a series cut into sliding windows, split by time, scaled with train statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from rnnlab.data.splits import EpochShuffle, SplitData, private_generator
from rnnlab.errors import UserError
from rnnlab.tasks.forecast.baselines import LinearAutoregression, drift_forecast, naive_forecast
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.series import Series, load_series

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ForecastSpec:
    """What a forecasting model needs to know about its data."""

    seq_len: int
    horizon: int
    shift: float  # scaled = (value - shift) / scale, fitted on the training part only
    scale: float
    mase_scale: float  # mean absolute one-step change on the training part (MASE denominator)
    relative: bool = False  # the model sees windows minus their last value and predicts the change
    input_size: int = 1
    task: str = "forecast"


@dataclass(frozen=True)
class Windows:
    starts: np.ndarray  # index of each window's first target in the series
    inputs: np.ndarray  # [N, seq_len], original units
    targets: np.ndarray  # [N, horizon], original units


def split_bounds(length: int, val_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """Chronological [start, end) of each split's targets: train first, then validation, then test."""
    n_test = round(length * test_fraction)
    n_val = round(length * val_fraction)
    train_end = length - n_val - n_test
    return {"train": (0, train_end), "val": (train_end, train_end + n_val), "test": (train_end + n_val, length)}


def cut_windows(values: np.ndarray, first: int, end: int, seq_len: int, horizon: int) -> Windows:
    """Windows whose targets lie in [first, end); their inputs may reach back before `first`."""
    starts = np.arange(max(first, seq_len), end - horizon + 1)
    inputs = values[starts[:, None] - seq_len + np.arange(seq_len)]
    targets = values[starts[:, None] + np.arange(horizon)]
    return Windows(starts, inputs, targets)


def fit_scaler(train_values: np.ndarray, kind: str) -> tuple[float, float]:
    if kind == "standard":
        shift, scale = float(train_values.mean()), float(train_values.std())
    elif kind == "minmax":
        shift, scale = float(train_values.min()), float(np.ptp(train_values))
    else:
        shift, scale = 0.0, 1.0
    return shift, scale if scale > 0 else 1.0


class StockData(SplitData):
    """Sliding windows over a generated or user series; never shuffled across the split."""

    def __init__(self, cfg: StockDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.seed = seed
        self.series: Series | None = None
        self.windows: dict[str, Windows] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.series is not None:
            return
        cfg = self.cfg
        series = load_series(cfg, self.seed)
        bounds = split_bounds(len(series.values), cfg.val_fraction, cfg.test_fraction)
        windows = {name: cut_windows(series.values, *bounds[name], cfg.seq_len, cfg.horizon) for name in SPLITS}
        empty = [name for name in SPLITS if len(windows[name].starts) == 0]
        if empty:
            raise UserError(
                f"data.seq_len={cfg.seq_len} with data.horizon={cfg.horizon} leaves no {'/'.join(empty)} windows "
                f"in a series of {len(series.values)} points ({series.source}); lower data.seq_len or use a "
                "longer series (data.length, or more rows in the CSV)"
            )
        train_values = series.values[: bounds["train"][1]]
        shift, scale = fit_scaler(train_values, cfg.scaler)
        mase_scale = float(np.abs(np.diff(train_values)).mean()) or 1.0
        self.spec = ForecastSpec(cfg.seq_len, cfg.horizon, shift, scale, mase_scale, cfg.relative)
        self.series, self.windows, self.bounds = series, windows, bounds

    def scale(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((values - self.spec.shift) / self.spec.scale, dtype=torch.float32)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        w = self.windows[split]
        dataset = TensorDataset(self.scale(w.inputs), self.scale(w.targets))
        return DataLoader(
            dataset, batch_size=self.cfg.batch_size, sampler=EpochShuffle(len(dataset), self.seed) if shuffle else None,
            generator=private_generator(self.seed), num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0,
        )

    def reference_forecasts(self) -> dict[str, np.ndarray]:
        """Baseline forecasts of the test windows in original units, in test-loader order.

        `oracle` knows the generating process (the clean signal): its error is the noise floor.
        """
        test, train = self.windows["test"], self.windows["train"]
        horizon = self.cfg.horizon
        forecasts = {
            "naive": naive_forecast(test.inputs, horizon),
            "drift": drift_forecast(test.inputs, horizon),
            "linear": LinearAutoregression(train.inputs, train.targets)(test.inputs),
        }
        if self.series.oracle is not None:
            forecasts["oracle"] = self.series.oracle(self.series.values, test.starts, horizon)
        return forecasts

    def rollout_windows(self) -> tuple[np.ndarray, np.ndarray]:
        """Test windows to continue autoregressively: inputs [N, seq_len] and the actual next values
        [N, steps], steps = data.rollout_steps (fewer if the test part is shorter)."""
        values, (first, end) = self.series.values, self.bounds["test"]
        steps = min(self.cfg.rollout_steps, end - max(first, self.cfg.seq_len))
        w = cut_windows(values, first, end, self.cfg.seq_len, steps)
        return w.inputs, w.targets
