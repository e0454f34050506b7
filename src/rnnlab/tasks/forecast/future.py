"""Forecasting past the end of a series from a checkpoint (`python -m rnnlab.forecast`): the series the run
trained on, read or generated again from what the checkpoint keeps, or a user's file with new rows read the
same way; the next values with their dates, written as a CSV and drawn after the series' last values."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from rnnlab.errors import UserError
from rnnlab.figures import line_figure, save_figure
from rnnlab.tasks.forecast.calendar import continue_dates, describe_dates
from rnnlab.tasks.forecast.csv_series import read_table
from rnnlab.tasks.forecast.data import ForecastSpec
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.series import Series, load_series
from rnnlab.tasks.forecast.task import ForecastTask

OUT_FOLDER = "forecast"  # where in its run folder a checkpoint's forecast is written when out= is not given


@dataclass(frozen=True)
class Future:
    """The forecast: a value per step after the series' last, each with its date (or `t+k` without dates)."""

    values: np.ndarray  # [steps], original units
    labels: list[str]  # the date of each value, or t+1, t+2, ...
    x: np.ndarray  # where each value is drawn: its date, or its step after the last value (1, 2, ...)
    last: str  # the last value's date, or "t"
    frequency: str | None  # of the dates; None when the steps are numbered


def forecast_future(module: ForecastTask, steps: int, csv_path: str | None, run: Path, out: Path | None,
                    history: int | None) -> list[str]:
    """The registry's forecaster: forecast `steps` values after the series' end, write `forecast.csv` and
    `forecast.png` (the last `history` values and the forecast) into `out` (None: the `run` folder's
    `OUT_FOLDER`), and return the lines to print."""
    spec = module.spec
    out = out or run / OUT_FOLDER
    check_steps(spec, steps)
    series = read_series(spec, csv_path)
    future = label_steps(series, forecast_values(module, series, steps))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"out={out} is not a folder that can be written ({error.strerror}); give another out=") \
            from None
    table, figure = out / "forecast.csv", out / "forecast.png"
    write_csv(table, future)
    shown = min(len(series.values), history or spec.seq_len + 2 * steps)
    save_figure(plot(series, future, shown), figure)
    return [describe(series, future, spec.outputs), *format_table(future), f"wrote {table} and {figure}"]


def check_steps(spec: ForecastSpec, steps: int) -> None:
    """Past its horizon a model reads its own forecasts; one that also reads other input columns would need
    their future values, which nobody has."""
    if spec.input_size > 1 and steps > spec.horizon:
        raise UserError(f"steps={steps} is past the model's horizon of {spec.horizon}: it also reads "
                        f"{spec.input_size - 1} input column(s) whose future values are unknown, so its forecasts "
                        f"cannot be fed back in; give steps={spec.horizon} or fewer")


def read_series(spec: ForecastSpec, csv_path: str | None) -> Series:
    """The series the run trained on (its CSV read again, or its generator run again with the run's seed), or
    `csv_path` read with the same column, date and missing-value options."""
    if spec.data is None and csv_path is None:
        raise UserError("this checkpoint does not say which series it trained on (it was written before "
                        "rnnlab.forecast); give the series with csv=<path>")
    cfg = StockDataConfig(**spec.data) if spec.data is not None else StockDataConfig()
    if csv_path is not None:
        check_file(csv_path, cfg)
        cfg = replace(cfg, csv_path=csv_path)
    elif cfg.csv_path and not Path(cfg.csv_path).is_file():
        raise UserError(f"the series this model trained on, {cfg.csv_path}, is not there any more; give it "
                        "with csv=<path>")
    series = load_series(cfg, spec.seed or 0)  # no seed: a checkpoint before rnnlab.forecast, read from csv=
    if len(series.values) < spec.seq_len:
        raise UserError(f"{series.source} has {len(series.values)} values, fewer than the model's window of "
                        f"{spec.seq_len} (data.seq_len); give a series of at least {spec.seq_len} rows")
    return series


def check_file(path: str, cfg: StockDataConfig) -> None:
    """`csv=` exists and has the column the model was trained on."""
    if not Path(path).expanduser().is_file():
        raise UserError(f"csv '{path}' does not exist; give the series as a CSV file with a header row")
    header = read_table(str(Path(path).expanduser()), cfg.delimiter).header
    if cfg.column is not None and cfg.column not in header:
        raise UserError(f"csv '{path}' has no column '{cfg.column}', the one the model was trained on; "
                        f"its columns: {', '.join(header)}")


def forecast_values(module: ForecastTask, series: Series, steps: int) -> np.ndarray:
    """The `steps` values after the series (original units): the model's forecast from the last window, and past
    its outputs (the horizon; one step for a recursive model) its forecasts from windows that end in its own
    forecasts, in the model's scaling (a window model maps each forecast back with its own window's units)."""
    spec = module.spec
    window = series.values[None, -spec.seq_len:]
    if spec.log and (window <= 0).any():
        raise UserError(f"the model works on log values (data.scaling=log-differences) and the last {spec.seq_len} "
                        "values of the series are not all positive; forecast a positive series")
    columns = _input_columns(spec, series)
    scaled = spec.inputs_to_model(window, None if columns is None else columns[None, -spec.seq_len:])
    inputs = torch.as_tensor(scaled, dtype=torch.float32, device=module.device)
    if columns is not None:  # steps <= horizon (check_steps): one forecast, nothing fed back
        return module.unscale(module(inputs))[0, :steps].double().cpu().numpy()
    return module.unscale(module.generate(inputs, steps, block=spec.outputs))[0].double().cpu().numpy()


def _input_columns(spec: ForecastSpec, series: Series) -> np.ndarray | None:
    """The input columns the model was trained on, in its order, from the series read now: a category the
    training file did not have is left out, one it had and this file lacks is all zeros."""
    if not spec.features:
        return None
    found = dict(zip(series.feature_names, series.features.T, strict=True)) if series.features is not None else {}
    return np.stack([found.get(name, np.zeros(len(series.values))) for name in spec.features], axis=1)


def label_steps(series: Series, values: np.ndarray) -> Future:
    """Each value's date, the series' dates continued at their frequency; `t+k` when it has none or they are
    irregular."""
    steps = len(values)
    if series.dates is not None:
        frequency = describe_dates(series.dates).frequency
        dates = continue_dates(series.dates, frequency, steps)
        if dates is not None:
            # the time of day only for a series that has one (hourly)
            unit = "D" if (series.dates == series.dates.astype("datetime64[D]")).all() else "m"
            return Future(values, _show(dates, unit), dates, _show(series.dates[-1:], unit)[0], frequency)
    return Future(values, [f"t+{k}" for k in range(1, steps + 1)], np.arange(1, steps + 1), "t", None)


def _show(dates: np.ndarray, unit: str) -> list[str]:
    return [text.replace("T", " ") for text in np.datetime_as_string(dates, unit=unit)]


def describe(series: Series, future: Future, horizon: int) -> str:
    """What was forecast from what, and how: within the model's horizon (the values it forecasts per call), or
    from its own forecasts."""
    steps = len(future.values)
    if future.frequency:
        where = f"on {future.last} ({future.frequency})"
    else:
        where = "at t" + (" (irregular dates: the steps are numbered)" if series.dates is not None else "")
    how = (f"the model forecasts {horizon} at a time, later steps from its own forecasts" if steps > horizon
           else f"within the model's horizon of {horizon}")
    return f"forecast of {series.source} after its last value, {series.values[-1]:.6g} {where}: {steps} steps; {how}"


def format_table(future: Future) -> list[str]:
    name = "date" if future.frequency else "step"
    width = max(len(name), *(len(label) for label in future.labels))
    return [f"{name:<{width}}  forecast"] + [f"{label:<{width}}  {value:.6g}"
                                             for label, value in zip(future.labels, future.values, strict=True)]


def write_csv(path: Path, future: Future) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["date" if future.frequency else "step", "forecast"])
        writer.writerows(zip(future.labels, future.values.tolist(), strict=True))


def plot(series: Series, future: Future, shown: int) -> Figure:
    """The last `shown` values of the series and the forecast after them, against the dates when it has them."""
    if future.frequency:
        past = series.dates[-shown:]
        xlabel = "date"
    else:
        past = np.arange(1 - shown, 1)
        xlabel = "steps after the last value (t = 0)"
    lines = {"series": (past, series.values[-shown:]),
             "forecast": (np.concatenate([past[-1:], future.x]), np.concatenate([series.values[-1:], future.values]))}
    return line_figure(f"Forecast of {series.source}, {len(future.values)} steps ahead", xlabel,
                       series.column or "value", lines)
