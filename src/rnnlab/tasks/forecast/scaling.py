"""What the model sees of a series: levels, differences or log-differences, `auto` chosen on train + validation.

The rule behind `data.scaling=auto`: each candidate's cheap proxy, a linear autoregression on the training
windows in that form, forecasts the validation windows; the one with the lowest validation RMSE wins,
levels first, then differences, then log-differences (positive series only), a later one only when it is
at least `MARGIN` better. The proxy of levels is clipped to the training part's range, because a recurrent
model of levels cannot forecast outside the levels it trained on: that is how it fails on trends and prices.
The test part is never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import UserError
from rnnlab.tasks.forecast.baselines import LinearAutoregression

MARGIN = 0.02  # a later candidate must beat the chosen one's validation RMSE by this fraction


@dataclass(frozen=True)
class Scaling:
    name: str
    log: bool  # the model works on log values (positive series, multiplicative growth)
    relative: bool  # the model sees windows minus their last value and predicts the change


SCALINGS = {
    "levels": Scaling("levels", log=False, relative=False),
    "differences": Scaling("differences", log=False, relative=True),
    "log-differences": Scaling("log-differences", log=True, relative=True),
}


def proxy_rmse(scaling: Scaling, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
               train_values: np.ndarray) -> float:
    """Validation RMSE (original units) of a linear AR fitted on the training windows in `scaling`'s form.

    `train` and `val` are (inputs [N, seq_len], targets [N, horizon]) in original units."""
    form = np.log if scaling.log else np.asarray
    (train_inputs, train_targets), (val_inputs, val_targets) = (
        (form(train[0]), form(train[1])), (form(val[0]), val[1]))
    if scaling.relative:
        last = train_inputs[:, -1:]
        proxy = LinearAutoregression(train_inputs - last, train_targets - last)
        forecast = val_inputs[:, -1:] + proxy(val_inputs - val_inputs[:, -1:])
    else:
        low, high = form(train_values).min(), form(train_values).max()
        forecast = np.clip(LinearAutoregression(train_inputs, train_targets)(val_inputs), low, high)
    forecast = np.exp(forecast) if scaling.log else forecast
    return float(np.sqrt(((forecast - val_targets) ** 2).mean()))


def choose_scaling(requested: str, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                   train_values: np.ndarray, positive: bool) -> tuple[Scaling, dict[str, float]]:
    """`data.scaling`, or for `auto` the candidate the rule above picks; with each candidate's proxy RMSE."""
    if requested == "log-differences" and not positive:
        raise UserError("data.scaling=log-differences needs a positive series (it takes logarithms); "
                        "use data.scaling=differences")
    names = [name for name in SCALINGS if positive or not SCALINGS[name].log]
    errors = {name: proxy_rmse(SCALINGS[name], train, val, train_values) for name in names}
    if requested != "auto":
        return SCALINGS[requested], errors
    chosen = names[0]
    for name in names[1:]:
        if errors[name] < (1 - MARGIN) * errors[chosen]:
            chosen = name
    return SCALINGS[chosen], errors
