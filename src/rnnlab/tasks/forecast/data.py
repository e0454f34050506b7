"""Forecasting data: a series cut into sliding windows, split by time, scaled with train statistics."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from rnnlab.data.splits import EpochShuffle, SplitData, private_generator
from rnnlab.errors import UserError
from rnnlab.tasks.forecast.baselines import (
    LinearAutoregression,
    drift_forecast,
    naive_forecast,
    seasonal_naive_forecast,
)
from rnnlab.tasks.forecast.calendar import describe_dates
from rnnlab.tasks.forecast.scaling import choose_scaling, window_floor
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.series import Series, load_series
from rnnlab.tasks.forecast.smoothing import ets_forecast

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ForecastSpec:
    """What a forecasting model needs to know about its data."""

    seq_len: int
    horizon: int  # values forecast per window, and scored
    shift: float  # scaled = (value - shift) / scale, fitted on the training part only
    scale: float
    mase_scale: float  # mean absolute one-step change on the training part (MASE denominator)
    relative: bool = False  # the model sees windows minus their last value and predicts the change
    input_size: int = 1
    task: str = "forecast"
    log: bool = False  # the model works on log values (data.scaling=log-differences)
    season: int = 0  # >0: a relative model predicts the change from the value one season before each target
    features: tuple[str, ...] = ()  # input columns read beside the target (data.columns; "column=category" one-hot)
    feature_shift: tuple[float, ...] = ()  # each input column standardised with the training part's mean and std
    feature_scale: tuple[float, ...] = ()
    # how to read the series again (python -m rnnlab.forecast): the `data:` section, with the CSV's absolute path
    # and the column read, and the run's seed, which regenerates a generated series; None in older checkpoints
    data: dict[str, Any] | None = None
    seed: int | None = None
    strategy: str = "direct"  # direct: `horizon` outputs at once; recursive: one, fed back `horizon` times
    window: bool = False  # data.scaling=window: each window minus its mean over its spread (scaling.window_stats)
    window_floor: float = 0.0  # ... a spread at least this, in the units `to_model` returns

    @property
    def outputs(self) -> int:
        """Values the model forecasts per call: the horizon, or 1 for a recursive model."""
        return 1 if self.strategy == "recursive" else self.horizon

    def to_model(self, values: np.ndarray) -> np.ndarray:
        """Values in original units -> what the model reads and predicts."""
        return ((np.log(values) if self.log else values) - self.shift) / self.scale

    def inputs_to_model(self, values: np.ndarray, features: np.ndarray | None) -> np.ndarray:
        """Windows of the target [N, seq_len] (and of the input columns [N, seq_len, F]) -> what the model
        reads: [N, seq_len], or [N, seq_len, 1 + F] with the target first."""
        target = self.to_model(values)
        if not self.features:
            return target
        scaled = (features - np.asarray(self.feature_shift)) / np.asarray(self.feature_scale)
        return np.concatenate([target[..., None], scaled], axis=-1)


@dataclass(frozen=True)
class Windows:
    starts: np.ndarray  # index of each window's first target in the series
    inputs: np.ndarray  # [N, seq_len], original units
    targets: np.ndarray  # [N, horizon], original units
    features: np.ndarray | None = None  # [N, seq_len, F] input columns beside the target, original units


def split_bounds(length: int, val_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """Chronological [start, end) of each split's targets: train first, then validation, then test."""
    n_test = round(length * test_fraction)
    n_val = round(length * val_fraction)
    train_end = length - n_val - n_test
    return {"train": (0, train_end), "val": (train_end, train_end + n_val), "test": (train_end + n_val, length)}


def cut_windows(values: np.ndarray, first: int, end: int, seq_len: int, horizon: int,
                features: np.ndarray | None = None) -> Windows:
    """Windows whose targets lie in [first, end); their inputs may reach back before `first`."""
    starts = np.arange(max(first, seq_len), end - horizon + 1)
    past = starts[:, None] - seq_len + np.arange(seq_len)
    targets = values[starts[:, None] + np.arange(horizon)]
    return Windows(starts, values[past], targets, features[past] if features is not None else None)


def fit_scaler(train_values: np.ndarray, kind: str) -> tuple[float, float]:
    if kind == "standard":
        shift, scale = float(train_values.mean()), float(train_values.std())
    elif kind == "minmax":
        shift, scale = float(train_values.min()), float(np.ptp(train_values))
    else:
        shift, scale = 0.0, 1.0
    return shift, scale if scale > 0 else 1.0


def _check_window_counts(cfg: StockDataConfig, series: Series, windows: dict[str, Windows]) -> None:
    """Every split needs data.min_windows windows: metrics from a handful of windows mean little."""
    counts = {name: len(windows[name].starts) for name in SPLITS}
    where = f"in a series of {len(series.values)} points ({series.source})"
    empty = [name for name in SPLITS if counts[name] == 0]
    if empty:
        raise UserError(
            f"data.seq_len={cfg.seq_len} with data.horizon={cfg.horizon} leaves no {'/'.join(empty)} windows "
            f"{where}; lower data.seq_len or use a longer series (data.length, or more rows in the CSV)"
        )
    few = {name: count for name, count in counts.items() if count < cfg.min_windows}
    if few:
        shown = ", ".join(f"{count} {name}" for name, count in few.items())
        fixes = [f"raise data.{name}_fraction" for name in few if name != "train"]
        fixes += ["lower data.val_fraction and data.test_fraction"] if "train" in few else []
        raise UserError(
            f"data.seq_len={cfg.seq_len} with data.horizon={cfg.horizon} leaves only {shown} windows {where}, "
            f"fewer than data.min_windows={cfg.min_windows}; use a longer series, lower data.seq_len, "
            f"{' or '.join(fixes)}"
        )


def _standardise(features: np.ndarray | None, train_end: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std of each input column over the training part (std 1 for a constant column)."""
    if features is None:
        return (), ()
    train = features[:train_end]
    std = train.std(axis=0)
    return tuple(train.mean(axis=0).tolist()), tuple(np.where(std > 0, std, 1.0).tolist())


class StockData(SplitData):
    """Sliding windows over a generated or user series; never shuffled across the split."""

    def __init__(self, cfg: StockDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.seed = seed
        self.series: Series | None = None
        self.windows: dict[str, Windows] = {}
        self.fit_windows: Windows | None = None  # what the model trains on: the train windows, one step for recursive
        self.season: int | None = None  # values per season, when the series has one (seasonal-naive baseline)
        self.summary: dict[str, Any] = {}  # what the series is and how it was read, for metrics.json

    def setup(self, stage: str | None = None) -> None:
        if self.series is not None:
            return
        cfg = self.cfg
        series = load_series(cfg, self.seed)
        bounds = split_bounds(len(series.values), cfg.val_fraction, cfg.test_fraction)
        windows = {name: cut_windows(series.values, *bounds[name], cfg.seq_len, cfg.horizon, series.features)
                   for name in SPLITS}
        _check_window_counts(cfg, series, windows)
        train_values = series.values[: bounds["train"][1]]
        self.summary = {"source": series.source, "points": len(series.values)}
        if series.missing:
            self.summary["missing"] = series.missing
        self.season = self._season(series, bounds["train"][1])
        positive = bool((series.values > 0).all())  # logarithms need every value, test part included
        scaling, proxy_errors = choose_scaling(
            cfg.scaling, (windows["train"].inputs, windows["train"].targets),
            (windows["val"].inputs, windows["val"].targets), train_values, positive, self.season)
        self.summary["scaling"] = {"requested": cfg.scaling, "chosen": scaling.name,
                                   "validation_rmse": proxy_errors}
        log.info("data.scaling=%s: the model sees %s", cfg.scaling, scaling.name)
        shift, scale = fit_scaler(np.log(train_values) if scaling.log else train_values, cfg.scaler)
        mase_scale = float(np.abs(np.diff(train_values)).mean()) or 1.0
        feature_shift, feature_scale = _standardise(series.features, bounds["train"][1])
        self.spec = ForecastSpec(cfg.seq_len, cfg.horizon, shift, scale, mase_scale, scaling.relative,
                                 input_size=1 + len(series.feature_names), log=scaling.log,
                                 season=self.season if scaling.seasonal else 0, features=series.feature_names,
                                 feature_shift=feature_shift, feature_scale=feature_scale,
                                 data=self._source(series), seed=self.seed, strategy=cfg.strategy,
                                 window=scaling.window,
                                 window_floor=window_floor(windows["train"].inputs) / scale if scaling.window else 0.0)
        # a recursive model learns the next value of every training window; it is scored over the horizon
        self.fit_windows = windows["train"] if self.spec.outputs == cfg.horizon else cut_windows(
            series.values, *bounds["train"], cfg.seq_len, self.spec.outputs, series.features)
        self.summary["strategy"] = cfg.strategy
        if series.feature_names:
            self.summary["columns"] = list(series.feature_names)
        self.series, self.windows, self.bounds = series, windows, bounds

    def _source(self, series: Series) -> dict[str, Any]:
        """The `data:` section as the checkpoint keeps it: found again from any folder, the same column."""
        source = asdict(self.cfg)
        if self.cfg.csv_path:
            source.update(csv_path=str(Path(self.cfg.csv_path).expanduser().resolve()), column=series.column)
        return source

    def _season(self, series: Series, train_points: int) -> int | None:
        """`data.season`, or the season the dates imply; None for no season. Notes dates and gaps in `summary`."""
        season = self.cfg.season
        if series.dates is not None:
            calendar = describe_dates(series.dates)
            self.summary["dates"] = calendar.report()
            if calendar.gap_count:
                log.warning("%s: %d gaps in the %s dates (%d points missing), first %s", series.source,
                            calendar.gap_count, calendar.frequency, calendar.missing_points, calendar.gaps[0])
            season = calendar.season if season is None else season
        season = season if season is not None and season > 1 else None
        if season is not None and season >= train_points:
            raise UserError(f"data.season={season} is longer than the training part ({train_points} points of "
                            f"{series.source}); lower data.season (0: none) or use a longer series")
        self.summary["season"] = season
        return season

    def scale(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.spec.to_model(values), dtype=torch.float32)

    def model_inputs(self, windows: Windows) -> torch.Tensor:
        return torch.as_tensor(self.spec.inputs_to_model(windows.inputs, windows.features), dtype=torch.float32)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        w = self.fit_windows if split == "train" else self.windows[split]
        dataset = TensorDataset(self.model_inputs(w), self.scale(w.targets))
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
            "ets": ets_forecast(self.series.values, self.bounds["train"][1], test.starts, horizon, self.season),
        }
        if train.features is not None:  # the same least squares on every column of the window
            flat = lambda w: np.hstack([w.inputs, w.features.reshape(len(w.inputs), -1)])  # noqa: E731
            forecasts["linear_all"] = LinearAutoregression(flat(train), train.targets)(flat(test))
        if self.season is not None:
            forecasts["seasonal_naive"] = seasonal_naive_forecast(self.series.values, test.starts, horizon, self.season)
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
