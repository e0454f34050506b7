"""Forecasting a series: windows of past values -> the next values, beside naive, drift and linear-AR baselines."""

from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.registry import Task, register_task

register_task(Task(
    name="forecast",
    schema=StockDataConfig,
    datamodule="rnnlab.tasks.forecast.data:StockData",
    module="rnnlab.tasks.forecast.task:ForecastTask",
    spec="rnnlab.tasks.forecast.data:ForecastSpec",
    monitor="val/loss",
    headline="test/rmse",
    higher_is_better=frozenset(),
    forecaster="rnnlab.tasks.forecast.future:forecast_future",
))
