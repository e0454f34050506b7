"""Exponential smoothing (tasks/forecast/smoothing.py) beside the forecasting baselines on the real series of
../shared/data/series: test RMSE in original units with the default splits (val 0.15, test 0.15, seq_len 20),
and the ETS model each series gets, with its fitting time.

    python benchmarks/ets_baseline.py [--horizon 1] [--data ../shared/data/series]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from rnnlab.tasks.forecast.data import StockData
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.smoothing import EtsModel, fit_ets

SERIES = {  # file: how to read it
    "daily-min-temperatures.csv": {},
    "monthly-sunspots.csv": {},
    "monthly-car-sales.csv": {},
    "pollution.csv": {"column": "pm2.5", "date_parts": ["year", "month", "day", "hour"], "missing": "interpolate"},
}
BASELINES = ("naive", "seasonal_naive", "drift", "linear")


def measure(path: Path, options: dict, horizon: int) -> dict[str, object]:
    data = StockData(StockDataConfig(csv_path=str(path), horizon=horizon, **options), seed=0)
    data.setup()
    test, train_end = data.windows["test"], data.bounds["train"][1]
    forecasts = data.reference_forecasts()
    began = time.process_time()
    model = fit_ets(data.series.values[:train_end], data.season)
    forecasts["ets"] = model.forecast(data.series.values, test.starts, horizon)
    seconds = time.process_time() - began
    rmse = {name: float(np.sqrt(np.mean((forecast - test.targets) ** 2))) for name, forecast in forecasts.items()}
    return {"series": path.name, "points": len(data.series.values), "season": data.season, "rmse": rmse,
            "model": describe(model), "seconds": seconds}


def describe(model: EtsModel) -> str:
    """The model and the parameters it uses."""
    parameters = {"alpha": model.alpha, **({"beta": model.beta, "phi": model.phi} if model.trend else {}),
                  **({"gamma": model.gamma} if model.season else {})}
    return f"{model.name} " + " ".join(f"{name}={value:.3g}" for name, value in parameters.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--horizon", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared" / "data" / "series")
    args = parser.parse_args()
    names = ["ets", *BASELINES]
    print(f"test RMSE, horizon {args.horizon} (ratio: ETS / best other baseline)\n")
    print("| series | points | season | " + " | ".join(names) + " | ratio | ETS model | fit + forecast (CPU s) |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in names) + " | ---: | --- | ---: |")
    for file, options in SERIES.items():
        row = measure(args.data / file, options, args.horizon)
        rmse = row["rmse"]
        best = min(rmse[name] for name in BASELINES if name in rmse)
        cells = " | ".join(f"{rmse[name]:.4g}" if name in rmse else "-" for name in names)
        print(f"| {row['series']} | {row['points']} | {row['season'] or '-'} | {cells} | {rmse['ets'] / best:.3f} "
              f"| {row['model']} | {row['seconds']:.2f} |")


if __name__ == "__main__":
    main()
