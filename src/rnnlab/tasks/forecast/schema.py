"""The `data:` section of forecasting: a generated series or a CSV column, cut into windows."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.checks import at_least, choice, fraction
from rnnlab.errors import UserError

GENERATORS = ("sine", "sine_trend", "random_walk", "gbm")
SCALERS = ("standard", "minmax", "none")
SCALINGS = ("auto", "levels", "differences", "log-differences", "seasonal-differences", "window")
STRATEGIES = ("direct", "recursive")
MISSING_POLICIES = ("error", "drop", "ffill", "interpolate", "zero")
MAX_DATE_PARTS = 5  # year, month, day, hour, minute


@dataclass
class StockDataConfig:
    """A price-like series (generated from a seed, or a column of a CSV) cut into sliding windows."""

    generator: str = "sine"
    length: int = 1000
    time_span: float = 100.0
    frequency: float = 0.1
    noise_std: float = 0.1
    trend: float = 0.01
    step_mean: float = 0.0
    step_std: float = 0.01
    start_value: float = 100.0
    csv_path: str | None = None
    column: str | None = None
    columns: list[str] | None = None
    delimiter: str | None = None
    date_column: str | None = None
    date_parts: list[str] | None = None
    missing: str = "error"
    missing_flags: bool = False
    season: int | None = None
    seq_len: int = 20
    horizon: int = 1
    strategy: str = "direct"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    scaler: str = "standard"
    scaling: str = "auto"
    min_windows: int = 5
    batch_size: int = 32
    rollout_steps: int = 20
    num_workers: int = 0

    def check(self) -> None:
        choice("data.generator", self.generator, GENERATORS)
        at_least("data.length", self.length, 2)
        at_least("data.noise_std", self.noise_std, 0.0)
        at_least("data.step_std", self.step_std, 0.0)
        at_least("data.seq_len", self.seq_len, 2)
        at_least("data.horizon", self.horizon, 1)
        choice("data.strategy", self.strategy, STRATEGIES)
        if self.strategy == "recursive" and self.columns and self.horizon > 1:
            raise UserError(f"data.strategy=recursive cannot forecast data.horizon={self.horizon} steps with "
                            f"data.columns={list(self.columns)}: their future values are unknown, so forecasts "
                            "cannot be fed back in; use data.strategy=direct or drop data.columns")
        fraction("data.val_fraction", self.val_fraction)
        fraction("data.test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise UserError(
                f"data.val_fraction + data.test_fraction = {self.val_fraction + self.test_fraction} "
                "leaves no training data; keep their sum below 1"
            )
        choice("data.scaler", self.scaler, SCALERS)
        choice("data.scaling", self.scaling, SCALINGS)
        choice("data.missing", self.missing, MISSING_POLICIES)
        at_least("data.min_windows", self.min_windows, 1)
        if self.season is not None:
            at_least("data.season", self.season, 0)
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise UserError(f"data.delimiter={self.delimiter!r} must be one character (',' ';' '\\t' '|')")
        if self.date_parts is not None and not 1 <= len(self.date_parts) <= MAX_DATE_PARTS:
            raise UserError(f"data.date_parts={list(self.date_parts)} must name 1 to {MAX_DATE_PARTS} columns: "
                            "year, month, day, hour, minute, in that order")
        at_least("data.batch_size", self.batch_size, 1)
        at_least("data.rollout_steps", self.rollout_steps, 1)
        at_least("data.num_workers", self.num_workers, 0)
        if self.generator in ("gbm",) and self.csv_path is None and self.start_value <= 0:
            raise UserError("data.start_value must be > 0 for the gbm generator (prices stay positive)")
