"""Price-like series: seeded generators (with their best possible forecast) or a column of a user CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab.errors import UserError
from rnnlab.tasks.forecast.csv_series import read_csv
from rnnlab.tasks.forecast.schema import StockDataConfig

# expected(values, starts, horizon) -> [N, horizon]: E[y_{s..s+h-1} | y_{<s}] under the generator.
Oracle = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class Series:
    values: np.ndarray  # float64 [length]
    source: str  # what the series is, for reports
    oracle: Oracle | None = None  # the forecaster that knows the generating process; None for CSV data
    dates: np.ndarray | None = None  # datetime64[s] of each value, when the CSV has dates
    missing: dict[str, object] = field(default_factory=dict)  # missing values found in the CSV, and what was done
    features: np.ndarray | None = None  # [length, F] input columns read beside the target (data.columns)
    feature_names: tuple[str, ...] = ()  # a numeric column's name, "column=category" for a one-hot one
    column: str | None = None  # the CSV column read (data.column, or the only numeric column); None when generated


def generate_series(cfg: StockDataConfig, seed: int) -> Series:
    """Generate `cfg.generator` deterministically from `seed`."""
    rng = np.random.default_rng(seed)
    n = cfg.length
    if cfg.generator in ("sine", "sine_trend"):
        t = np.linspace(0.0, cfg.time_span, n)
        clean = np.sin(cfg.frequency * t)
        if cfg.generator == "sine_trend":
            clean = clean + cfg.trend * t
        values = clean + rng.normal(0.0, cfg.noise_std, n)
        return Series(values, f"{cfg.generator}(noise_std={cfg.noise_std})", _clean_signal_oracle(clean))
    steps = rng.normal(cfg.step_mean, cfg.step_std, n - 1)
    if cfg.generator == "random_walk":
        values = cfg.start_value + np.concatenate([[0.0], np.cumsum(steps)])
        return Series(values, "random_walk", _random_walk_oracle(cfg.step_mean))
    values = cfg.start_value * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    return Series(values, "gbm", _gbm_oracle(cfg.step_mean, cfg.step_std))


def _clean_signal_oracle(clean: np.ndarray) -> Oracle:
    def expected(values: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
        return clean[starts[:, None] + np.arange(horizon)]

    return expected


def _random_walk_oracle(step_mean: float) -> Oracle:
    def expected(values: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
        return values[starts - 1, None] + step_mean * np.arange(1, horizon + 1)

    return expected


def _gbm_oracle(step_mean: float, step_std: float) -> Oracle:
    def expected(values: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
        growth = np.exp((step_mean + step_std**2 / 2) * np.arange(1, horizon + 1))
        return values[starts - 1, None] * growth

    return expected


def read_csv_series(path: str, column: str | None, **options: object) -> Series:
    """Read one numeric column of a CSV with a header row, in file order, with its dates if it has them
    (`options`: delimiter, date_column, date_parts, missing, inputs, as in `read_csv`)."""
    table = read_csv(path, column, **options)
    return Series(table.values, f"{Path(path).name}:{table.column}", dates=table.dates, missing=table.missing,
                  features=table.features, feature_names=table.feature_names, column=table.column)


def load_series(cfg: StockDataConfig, seed: int) -> Series:
    if not cfg.csv_path:
        if cfg.columns or cfg.missing_flags:
            raise UserError("data.columns and data.missing_flags read columns of a CSV; set data.csv_path too "
                            "(a generated series has no other columns and no missing values)")
        return generate_series(cfg, seed)
    return read_csv_series(cfg.csv_path, cfg.column, delimiter=cfg.delimiter, date_column=cfg.date_column,
                           date_parts=cfg.date_parts, missing=cfg.missing, inputs=cfg.columns,
                           missing_flags=cfg.missing_flags)
