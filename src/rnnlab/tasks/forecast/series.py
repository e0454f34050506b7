"""Price-like series: seeded generators (with their best possible forecast) or a column of a user CSV."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import UserError
from rnnlab.tasks.forecast.schema import StockDataConfig

# expected(values, starts, horizon) -> [N, horizon]: E[y_{s..s+h-1} | y_{<s}] under the generator.
Oracle = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class Series:
    values: np.ndarray  # float64 [length]
    source: str  # what the series is, for reports
    oracle: Oracle | None = None  # the forecaster that knows the generating process; None for CSV data


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


def read_csv_series(path: str, column: str | None) -> Series:
    """Read one numeric column of a CSV with a header row, in file order."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"data.csv_path '{path}' does not exist; give the path of a CSV file with a header row")
    with file.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0].keys()) if rows else []
    if not header:
        raise UserError(f"data.csv_path '{path}' has no rows; give a CSV with a header row and values below it")
    column = column if column is not None else _only_numeric_column(rows, header, path)
    if column not in header:
        raise UserError(f"data.column '{column}' is not in {path}; choose one of {', '.join(header)}")
    values = []
    for line, row in enumerate(rows, start=2):
        try:
            values.append(float(row[column]))
        except (TypeError, ValueError):
            raise UserError(
                f"{path} line {line}: column '{column}' holds {row[column]!r}, not a number; "
                "clean the file or choose another data.column"
            ) from None
    return Series(np.asarray(values, dtype=np.float64), f"{file.name}:{column}")


def _only_numeric_column(rows: list[dict[str, str]], header: list[str], path: str) -> str:
    def numeric(name: str) -> bool:
        try:
            float(rows[0][name])
        except (TypeError, ValueError):
            return False
        return True

    candidates = [name for name in header if numeric(name)]
    if len(candidates) != 1:
        raise UserError(
            f"{path} has {len(candidates)} numeric columns ({', '.join(candidates) or 'none'}); "
            f"choose one with data.column=<name> (columns: {', '.join(header)})"
        )
    return candidates[0]


def load_series(cfg: StockDataConfig, seed: int) -> Series:
    return read_csv_series(cfg.csv_path, cfg.column) if cfg.csv_path else generate_series(cfg, seed)
