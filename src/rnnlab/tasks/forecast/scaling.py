"""What the model sees of a series: levels, differences, log-differences, seasonal differences or each window
in its own units, `auto` chosen on train + validation.

The rule behind `data.scaling=auto`, which never looks at the test part:
1. seasonal differences when the series has a season that fits the window (data.horizon <= season <=
   data.seq_len) and the seasonal-naive forecast beats the naive one on the validation windows: the season
   is real, and the model starts from last season's value;
2. otherwise each candidate's cheap proxy, a linear autoregression on the training windows in that form,
   forecasts the validation windows; the lowest validation RMSE wins, in the order levels, differences,
   log-differences (positive series only), window, a later one only when it is at least `MARGIN` better.
   The proxy of levels is clipped to the training part's range, because a recurrent model of levels cannot
   forecast outside the levels it trained on: that is how it fails on trends and prices; the proxy of window
   is clipped likewise in window units. (A linear proxy cannot tell seasonal differences from differences:
   both span the same linear models; hence step 1.)

`window` (per-window normalisation) gives each window its own units: minus the window's mean, over its
standard deviation (at least `WINDOW_FLOOR` times the training windows' mean one, so a flat window is not
blown up); the model predicts in those units and each forecast is mapped back with its window's statistics.
A series whose level and amplitude both drift then looks alike to the model in every window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from rnnlab.errors import UserError
from rnnlab.tasks.forecast.baselines import LinearAutoregression

MARGIN = 0.02  # a later candidate must beat the chosen one's validation RMSE by this fraction
WINDOW_FLOOR = 0.1  # data.scaling=window: a window's spread is at least this fraction of the training windows' mean
Values = TypeVar("Values", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class Scaling:
    name: str
    log: bool  # the model works on log values (positive series, multiplicative growth)
    relative: bool  # the model sees windows minus their last value and predicts the change
    seasonal: bool = False  # ... predicts the change from the value one season before each target instead
    window: bool = False  # the model sees each window minus its mean over its spread and predicts in those units


SCALINGS = {
    "levels": Scaling("levels", log=False, relative=False),
    "differences": Scaling("differences", log=False, relative=True),
    "log-differences": Scaling("log-differences", log=True, relative=True),
    "seasonal-differences": Scaling("seasonal-differences", log=False, relative=True, seasonal=True),
    "window": Scaling("window", log=False, relative=False, window=True),
}


def window_stats(windows: Values, floor: float) -> tuple[Values, Values]:
    """Each window's mean and spread (standard deviation, at least `floor`), [N, 1] each: the units of
    data.scaling=window. Windows [N, seq_len]: numpy arrays or tensors."""
    centre = windows.mean(axis=1, keepdims=True)
    variance = ((windows - centre) ** 2).mean(axis=1, keepdims=True)
    return centre, variance.clip(min=floor**2) ** 0.5  # clipped before the root: no infinite gradient at 0


def window_floor(train_inputs: np.ndarray) -> float:
    """The smallest spread of a window, in the units of `train_inputs` (the training windows [N, seq_len])."""
    return WINDOW_FLOOR * float(train_inputs.std(axis=1).mean()) or 1.0


def base_of(inputs: np.ndarray, horizon: int, season: int | None) -> np.ndarray:
    """What a relative forecast is a change from: the window's last value, or with a season the value one
    season before each target (in the window: data.seq_len >= season >= data.horizon)."""
    if not season:
        return inputs[:, -1:]
    start = inputs.shape[1] - season
    return inputs[:, start : start + horizon]


def proxy_rmse(scaling: Scaling, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
               train_values: np.ndarray, season: int | None) -> float:
    """Validation RMSE (original units) of a linear AR fitted on the training windows in `scaling`'s form.

    `train` and `val` are (inputs [N, seq_len], targets [N, horizon]) in original units."""
    form = np.log if scaling.log else np.asarray
    (train_inputs, train_targets), (val_inputs, val_targets) = (
        (form(train[0]), form(train[1])), (form(val[0]), val[1]))
    horizon, lag = train_targets.shape[1], season if scaling.seasonal else None
    if scaling.window:
        floor = window_floor(train_inputs)
        (centre, spread), (val_centre, val_spread) = window_stats(train_inputs, floor), window_stats(val_inputs, floor)
        units = (train_targets - centre) / spread
        proxy = LinearAutoregression((train_inputs - centre) / spread, units)
        forecast = val_centre + val_spread * np.clip(proxy((val_inputs - val_centre) / val_spread), units.min(),
                                                     units.max())
    elif scaling.relative:
        base = base_of(train_inputs, horizon, lag)
        proxy = LinearAutoregression(train_inputs - train_inputs[:, -1:], train_targets - base)
        forecast = base_of(val_inputs, horizon, lag) + proxy(val_inputs - val_inputs[:, -1:])
    else:
        low, high = form(train_values).min(), form(train_values).max()
        forecast = np.clip(LinearAutoregression(train_inputs, train_targets)(val_inputs), low, high)
    forecast = np.exp(forecast) if scaling.log else forecast
    return float(np.sqrt(((forecast - val_targets) ** 2).mean()))


def choose_scaling(requested: str, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                   train_values: np.ndarray, positive: bool, season: int | None) -> tuple[Scaling, dict[str, float]]:
    """`data.scaling`, or for `auto` the form the rule above picks; with the validation RMSE of each proxy (by
    the form's name) and, for a season that fits the window, of the naive and seasonal-naive forecasts."""
    seq_len, horizon = train[0].shape[1], train[1].shape[1]
    seasonal = season is not None and horizon <= season <= seq_len
    if requested == "log-differences" and not positive:
        raise UserError("data.scaling=log-differences needs a positive series (it takes logarithms); "
                        "use data.scaling=differences")
    if requested == "seasonal-differences" and not seasonal:
        raise UserError(f"data.scaling=seasonal-differences needs a season (data.season, now {season}) with "
                        f"data.horizon={horizon} <= season <= data.seq_len={seq_len}; raise data.seq_len or set "
                        "data.season")
    names = [name for name, scaling in SCALINGS.items() if (positive or not scaling.log) and not scaling.seasonal]
    errors = {name: proxy_rmse(SCALINGS[name], train, val, train_values, season) for name in names}
    if seasonal:
        val_inputs, val_targets = val
        for name, forecast in (("naive", base_of(val_inputs, horizon, None)),
                               ("seasonal_naive", base_of(val_inputs, horizon, season))):
            errors[name] = float(np.sqrt(((forecast - val_targets) ** 2).mean()))
    if requested != "auto":
        return SCALINGS[requested], errors
    if seasonal and errors["seasonal_naive"] < errors["naive"]:
        return SCALINGS["seasonal-differences"], errors
    chosen = names[0]
    for name in names[1:]:
        if errors[name] < (1 - MARGIN) * errors[chosen]:
            chosen = name
    return SCALINGS[chosen], errors
